//go:build relapse_lean

package kit

import "github.com/relapse-dev/relapse/harness/scenario"

// clusterRun is empty in a lean build: it links no kubelet bug (their
// packages import the Kubernetes client, which a lean build leaves out).
type clusterRun struct{}

// scenarioFor is how a declaration runs: with the runc under test on the
// node. A kubelet bug cannot be registered here (see clusterRun).
func scenarioFor(b *Bug) scenario.Scenario {
	if b.Component == "kubernetes" {
		panic("kit: a lean build (-tags relapse_lean) runs no kubelet bug, not " + b.ID)
	}
	return nodeScenario(b)
}
