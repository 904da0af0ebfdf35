// Package cluster is the seam between cluster scenarios and whoever makes
// their cluster: a Cluster is a running single-node Kubernetes cluster as
// scenarios see it (client-go, node name, the CNI ledger, IPAM
// allocations, CRI socket, seccomp directory, the runc under test as its
// processes show it), whichever Provider made it. The seam also holds
// what providers share: Options, the containerd CRI section, the CNI
// files behind relapse's ledger wrapper, the CRI fault proxy, per-cluster
// PKI, offline images, bounded polling and readiness waits, and the
// kernel parameters kubelet rewrites (journaled and put back).
//
// The providers are bare (cluster/bare: relapse runs each component in
// namespaces of its own, on the local node or a VM node) and kind
// (cluster/kind); clusterkit lists them for the scenarios.
package cluster
