package kit

import (
	"strconv"
	"strings"
)

// nodeComponents are the components whose bugs the kit runs without an
// engine: runc's on the node (the bug's runc under test), kubelet's
// ("kubernetes") on a one-node cluster made from the run's Kubernetes,
// containerd and runc (cluster.go). Engines add theirs (engine.go).
var nodeComponents = []string{"runc", "kubernetes"}

// FeatureGatesParam is the parameter a kubelet bug's scenario takes for
// kubelet's feature gates ("ExecProbeTimeout=false"): the gate-off case
// sets it (harness/cluster's FeatureGatesParam is the parameter itself;
// this package names it without importing the cluster, so that runc
// bugs stay in the lean build).
const FeatureGatesParam = "feature-gates"

// BugsOf lists the registered bugs of one component, in registration
// order: each suite runs its own component's (suites/runc runc's,
// suites/kubernetes kubelet's).
func BugsOf(component string) []*Bug {
	var out []*Bug
	for _, b := range bugs {
		if b.Component == component {
			out = append(out, b)
		}
	}
	return out
}

// TurnsFixOff says whether a value of FeatureGatesParam turns the bug's
// fix gate off ("ExecProbeTimeout=false"): such a run reproduces past the
// fix on purpose, a canary like a revert.
func (b *Bug) TurnsFixOff(featureGates string) bool {
	if b.FixGate == "" {
		return false
	}
	for _, pair := range strings.Split(featureGates, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
		if name == b.FixGate {
			off, err := strconv.ParseBool(value)
			return err == nil && !off
		}
	}
	return false
}
