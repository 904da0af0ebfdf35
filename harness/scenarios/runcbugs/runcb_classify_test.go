package runcbugs

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

// verdictCase is one observation pair and what the bug's rule must say.
type verdictCase struct {
	name             string
	control, trigger kit.Observation
	want             report.Result
	says             string
}

func checkVerdicts(t *testing.T, b *kit.Bug, cases []verdictCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := kit.Decide(b, c.control, c.trigger)
			if v.Result != c.want || !strings.Contains(v.Reason, c.says) {
				t.Errorf("verdict = %s: %s; want %s saying %q", v.Result, v.Reason, c.want, c.says)
			}
		})
	}
}

func TestCVE202130465Classify(t *testing.T) {
	control := facts("marker", "error: open /shared/view/m: no such file or directory")
	under := func(kv ...string) kit.Observation {
		return facts(append([]string{"attempts", "100", "swaps", "250000"}, kv...)...)
	}
	checkVerdicts(t, cve202130465, []verdictCase{
		{"an escape", control, under("escaped", "4", "started", "90", "failed", "6"), report.Reproduced, "4 of 100"},
		{"none, with refusals", control, under("started", "90", "refused", "3", "failed", "7"), report.NotReproduced, `runc refused 3: "possibly malicious path detected"`},
		{"the control read it", facts("marker", "read"), under("escaped", "4"), report.Inconclusive, "without any attacker"},
		{"no exchange", control, facts("attempts", "100", "started", "100", "swaps", "0"), report.Inconclusive, "no exchange"},
		{"few starts", control, under("started", "30", "failed", "70"), report.Inconclusive, "fewer than half"},
		{"control did not run", kit.Observation{Failure: "runc create failed"}, under("escaped", "4"), report.Inconclusive, "control"},
	})
}

func TestRunc3551Classify(t *testing.T) {
	control := facts("before", "ok", "after", "ok")
	denied := "time=\"...\" level=error msg=\"exec failed: unable to start container process: open /dev/pts/0: operation not permitted\""
	checkVerdicts(t, runc3551, []verdictCase{
		{"denied after the reload", control, facts("before", "ok", "after", denied, "device-allow", "DeviceAllow=/dev/char/1:3 rwm"),
			report.Reproduced, "open /dev/pts/0: operation not permitted"},
		{"works after the reload", control, facts("before", "ok", "after", "ok", "device-allow", "DeviceAllow=char-pts rwm"),
			report.NotReproduced, "keeps the pseudo-terminals' rule"},
		{"works after the reload, by major", control, facts("before", "ok", "after", "ok", "device-allow", "DeviceAllow=char-136 rwm"),
			report.NotReproduced, "keeps the pseudo-terminals' rule"},
		{"control's second exec failed", facts("before", "ok", "after", denied), facts("after", denied),
			report.Inconclusive, "without any reload"},
		{"another failure", control, facts("before", "ok", "after", "container not running"), report.Inconclusive, "not on /dev/pts"},
		{"no systemd", kit.Observation{Failure: "PID 1 of node x is init, not systemd"}, kit.Observation{}, report.Inconclusive, "not systemd"},
	})
}
