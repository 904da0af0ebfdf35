package runcbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

func TestRunc3551Classify(t *testing.T) {
	control := facts("before", "ok", "after", "ok")
	denied := "time=\"...\" level=error msg=\"exec failed: unable to start container process: open /dev/pts/0: operation not permitted\""
	checkClassify(t, runc3551, []classifyCase{
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
