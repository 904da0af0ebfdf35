package runcbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

func TestCVE202130465Classify(t *testing.T) {
	control := facts("marker", "error: open /shared/view/m: no such file or directory")
	under := func(kv ...string) kit.Observation {
		return facts(append([]string{"attempts", "100", "swaps", "250000"}, kv...)...)
	}
	checkClassify(t, cve202130465, []classifyCase{
		{"an escape", control, under("escaped", "4", "started", "90", "failed", "6"), report.Reproduced, "4 of 100"},
		{"none, with refusals", control, under("started", "90", "refused", "3", "failed", "7"), report.NotReproduced, `runc refused 3: "possibly malicious path detected"`},
		{"the control read it", facts("marker", "read"), under("escaped", "4"), report.Inconclusive, "without any attacker"},
		{"no exchange", control, facts("attempts", "100", "started", "100", "swaps", "0"), report.Inconclusive, "no exchange"},
		{"few starts", control, under("started", "30", "failed", "70"), report.Inconclusive, "fewer than half"},
		{"control did not run", kit.Observation{Failure: "runc create failed"}, under("escaped", "4"), report.Inconclusive, "control"},
	})
}
