// Package bare runs real single-node Kubernetes clusters itself: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kubelet at a
// chosen version (built by harness/versions), on containerd (or kubelet's
// dockershim before 1.24) with the runc under test, CNI from Debian, and
// images made offline - no registry needed.
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
package bare
