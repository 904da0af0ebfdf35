//go:build !relapse_lean

package experiment

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/scenarios/kubeletbugs"
	"github.com/relapse-dev/relapse/harness/versions"
)

// kubernetes#94080's gate-off canary: on 1.20.0, the first fixed release,
// with kubelet's ExecProbeTimeout gate off the bug is expected back, so
// its REPRODUCED matches (no relapse for the nightly or the suites to
// flag); with the gate on, 1.20.0 is expected fixed as before.
func TestVerdictOfAFixTurnedOffByAGate(t *testing.T) {
	s, err := scenario.Lookup(kubeletbugs.Name)
	if err != nil {
		t.Fatal(err)
	}
	bug := s.Bug()
	found := outcome{result: report.Reproduced, reason: "pod stayed Ready", cause: report.CauseEvidence}
	for gates, want := range map[string]report.Result{"ExecProbeTimeout=false": report.Reproduced, "ExecProbeTimeout=true": report.NotReproduced, "": report.NotReproduced} {
		params, err := scenario.ResolveParams(s, map[string]string{"feature-gates": gates})
		if err != nil {
			t.Fatal(err)
		}
		p := &Plan{Scenario: s, Params: params, Resolved: map[string]versions.Resolved{"kubernetes": {Component: "kubernetes", Version: "v1.20.0"}}}
		v := p.verdict(&report.Report{Bug: bug}, found)
		if v.Expected != want || v.Matches != (want == report.Reproduced) {
			t.Errorf("feature-gates=%q: expected %s (matches %t, %s), want %s", gates, v.Expected, v.Matches, v.ExpectedWhy, want)
		}
		if want == report.Reproduced && !strings.Contains(v.ExpectedWhy, "kubelet feature gate ExecProbeTimeout=false") {
			t.Errorf("feature-gates=%q: why %q does not name the gate", gates, v.ExpectedWhy)
		}
	}
}
