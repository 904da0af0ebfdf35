// Package kind runs a scenario's cluster with sigs.k8s.io/kind: one
// control-plane node container on a dockerd relapse starts for the run (its
// own network namespace, data root and cgroup parent, like every engine in
// harness/engine), from a node image relapse builds offline.
//
// kind's stock kindest/node images come from a registry and `kind build
// node-image` fetches images too, so the node image is assembled here from
// what is cached: a Debian root filesystem (debootstrap, the host's
// mirror) with systemd, containerd and the CNI plugins; kind's own base
// files (entrypoint, kubelet units, taken from the kind module this binary
// was built with); kubeadm, kubelet and kubectl of the chosen version and
// the runc under test; and the control-plane images kubeadm asks for
// (kube-apiserver, -controller-manager, -scheduler, etcd, pause), each a
// one-layer image of the same binaries, imported into containerd's k8s.io
// namespace when the node boots. kindnetd and kube-proxy are not built
// (no proxy serves them): the node runs bridge + host-local behind
// relapse's CNI ledger wrapper and kind's kubeProxyMode none, which is
// enough for one node. CoreDNS has no image offline and is scaled to zero.
//
// What is host-wide stays host-wide in kind: the node container is
// privileged, so a sysctl set in it (kubelet's, or a scenario's
// fs.pipe-user-pages-soft) changes the host kernel. relapse journals and
// restores those as it does for bare clusters, and masks
// systemd-sysctl.service in the image so the node's boot does not rewrite
// the host's kernel parameters.
package kind
