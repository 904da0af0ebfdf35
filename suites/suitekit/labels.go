package suitekit

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/relapse-dev/relapse/harness/report"
)

// The label vocabulary of every suite. Specs are selected with
// -ginkgo.label-filter ('bug:containerd-5261 && fixed', '!slow'); these
// helpers are the only way specs get labels, so two spellings of one idea
// cannot appear.
const (
	// Affected marks a spec on a version inside the bug's affected range.
	Affected = "affected"
	// Fixed marks a spec on a version outside it (fixed, or before the regression).
	Fixed = "fixed"
	// TriggerCheck marks a spec that proves the trigger must be armed for a verdict.
	TriggerCheck = "trigger-check"
	// FixRevert marks a spec on a fixed release with the fix taken out.
	FixRevert = "fix-revert"
	// Slow specs are left out of `make test`.
	Slow = "slow"
)

// BugLabels labels a spec with its bug as upstream names it (bug:REPO-N
// for the report, fix:REPO-N for the fix) and the component whose version
// decides (component:NAME), plus any more given.
func BugLabels(b report.Bug, more ...string) Labels {
	ls := []string{"bug:" + IssueLabel(b.ID), "component:" + b.Component}
	if b.Fix != "" {
		ls = append(ls, "fix:"+IssueLabel(b.Fix))
	}
	return Label(append(ls, more...)...)
}

// IssueLabel turns "containerd#5261" into "containerd-5261".
func IssueLabel(id string) string { return strings.ReplaceAll(id, "#", "-") }

// Engine labels a spec with the engine that drives the runtime ("docker").
func Engine(name string) string { return "engine:" + name }

// Node labels a spec with the node provider it runs on ("qemu").
func Node(name string) string { return "node:" + name }

// Cluster labels a spec with its cluster provider ("kind").
func Cluster(name string) string { return "cluster:" + name }

// Runtime labels a spec with kubelet's runtime ("dockershim").
func Runtime(name string) string { return "runtime:" + name }

// CNI labels a spec with its CNI plugin ("netns-lookup").
func CNI(name string) string { return "cni:" + name }

// Trigger labels a spec with a trigger other than the scenario's default ("cronjob").
func Trigger(name string) string { return "trigger:" + name }

// Signal labels a spec that stops relapse with a signal ("kill", "int", "term").
func Signal(name string) string { return "signal:" + name }
