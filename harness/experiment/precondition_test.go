package experiment

import (
	"context"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
)

// offHost is runc-pipe-hang on a host an interrupted script left off: its
// pipe limit reads 1.
type offHost struct{ scenario.Scenario }

// pipeHang is containerd#5261's scenario (runc-pipe-hang), as the kit registered it.
var pipeHang, _ = scenario.Lookup(runcpipehang.Name)

func (offHost) Preconditions(scenario.Values) []scenario.Precondition {
	return []scenario.Precondition{
		{Name: "pipe limit", Check: func(context.Context, node.Node) error {
			return &scenario.Unmet{Found: "fs.pipe-user-pages-soft is 1 on local", Why: "the control needs full-size pipes",
				Fix: "sysctl -w fs.pipe-user-pages-soft=16384"}
		}},
		{Name: "nothing in the way", Check: func(context.Context, node.Node) error { return nil }},
	}
}

// An unmet precondition ends the run INCONCLUSIVE for a missing
// requirement, with the cause and the command that fixes it in the reason,
// and what held is recorded among the conditions.
func TestUnmetPreconditionNamesTheCauseAndTheFix(t *testing.T) {
	p := &Plan{Scenario: offHost{pipeHang}}
	env := &scenario.Env{Run: &run.Run{ID: "t", Node: local.New(), Report: &report.Report{}, Ledger: &run.Ledger{}}}
	out, ok := p.checkPreconditions(context.Background(), env)
	if ok {
		t.Fatal("the run went on with an unmet precondition")
	}
	v := p.verdict(env.Report, out)
	if v.Result != report.Inconclusive || v.Cause != report.CauseMissing {
		t.Errorf("verdict %s (cause %s), want INCONCLUSIVE for a missing requirement", v.Result, v.Cause)
	}
	for _, want := range []string{"fs.pipe-user-pages-soft is 1 on local", "the control needs full-size pipes",
		"Fix it with: sysctl -w fs.pipe-user-pages-soft=16384", "nothing was changed"} {
		if !strings.Contains(v.Reason, want) {
			t.Errorf("reason lacks %q: %s", want, v.Reason)
		}
	}
	if len(v.Missing) != 1 || len(env.Report.Conditions) != 1 || env.Report.Conditions[0].Value != "nothing in the way" {
		t.Errorf("missing %v, conditions %+v", v.Missing, env.Report.Conditions)
	}
}
