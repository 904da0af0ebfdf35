package kubernetes_test

import (
	"testing"

	_ "github.com/relapse-dev/relapse/harness/scenarios"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The Kubernetes suite runs real single-node clusters (etcd, control plane,
// kubelet, containerd) built from the module proxy; `make test-k8s` runs
// it. Kubernetes builds take minutes per version (cached afterwards) and
// the PLEG threshold alone is 3 minutes, so every cluster spec is slow.
func TestKubernetesSuite(t *testing.T) {
	suitekit.RunRootSuite(t, "kubernetes", "runs clusters in namespaces")
}
