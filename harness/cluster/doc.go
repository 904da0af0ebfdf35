// Package cluster runs real single-node Kubernetes clusters for scenarios:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kubelet at a chosen version (built by harness/versions), on containerd
// with the runc under test, CNI from Debian, and images made offline (a
// static pause program, a busybox root filesystem) - no registry needed.
//
// A cluster lives in relapse's own network namespace and in mount
// namespaces with private /run, /var/lib/kubelet and /var/log/{pods,
// containers}, with certificates made per cluster and everything else under
// the run directory; the kernel parameters kubelet rewrites are journaled
// and put back, its cgroup root removed. Scenarios talk to the API with
// client-go through a dialer that enters the namespace.
//
// The node is the local host or a qemu VM (nodefiles.go): on a VM the
// binaries come on a read-only disk, the run directory is mirrored at the
// same path on both machines, and dials go through the node's agent.
// Providers (bare here, kind in cluster/kind) register with
// RegisterProvider; scenarios see a Cluster whichever made it.
package cluster
