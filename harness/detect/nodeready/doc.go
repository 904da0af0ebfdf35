// Package nodeready watches a Kubernetes node's Ready condition through
// the API server and keeps the windows in which it was not Ready: the
// symptom kubelet shows when PLEG stalls (kubernetes#45419, and
// containerd#5261 under Kubernetes). It is apart from harness/detect
// because it needs client-go, which scenarios without a cluster should
// not have to compile.
package nodeready
