//go:build !relapse_lean

package kit

import "github.com/relapse-dev/relapse/harness/scenario"

// FixTurnedOff (scenario.FixSwitcher): a run whose kubelet feature gates
// turn the bug's FixGate off expects the bug back on a fixed release, so
// the gate-off canary's REPRODUCED matches what was expected instead of
// reading as a relapse.
func (s *clusterScenario) FixTurnedOff(params scenario.Values) string {
	gates := params.Optional(FeatureGatesParam, "")
	if !s.b.TurnsFixOff(gates) {
		return ""
	}
	return "kubelet feature gate " + s.b.FixGate + "=false"
}
