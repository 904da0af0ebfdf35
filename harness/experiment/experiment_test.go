package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/systemdcookie"
	"github.com/relapse-dev/relapse/harness/versions"
)

// The verdict names the component it judges, built or observed on the
// node, and the run is named after it: a systemd scenario that builds
// runc is systemd's run, not runc's.
func TestVerdictJudgesTheBugsComponent(t *testing.T) {
	p := &Plan{Scenario: systemdcookie.Scenario{}, Resolved: map[string]versions.Resolved{"runc": {Component: "runc", Version: "v1.1.14"}}}
	rep := &report.Report{Bug: systemdcookie.Bug, Observed: map[string]string{"systemd": "252.39"}}
	v := p.verdict(rep, outcome{result: report.NotReproduced, reason: "wrapped and answered", cause: report.CauseEvidence})
	if v.Component != "systemd" || v.Version != "252.39" || v.Expected != report.NotReproduced || !v.Matches {
		t.Fatalf("verdict = %+v", v)
	}
	rep.Verdict = v
	if got := rep.ComponentVersion(); got != "systemd 252.39" {
		t.Errorf("ComponentVersion = %q", got)
	}

	started := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	c, ver := p.judged()
	if c != "systemd" || ver != "" {
		t.Errorf("judged before the run = %s %s; want systemd and no version yet", c, ver)
	}
	dir := filepath.Join(t.TempDir(), runName(started, p.Scenario.Name(), c, ver, "abc123"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rep.RunID = filepath.Base(dir)
	renamed := p.nameAfterVerdict(rep, dir, started, "abc123")
	if want := "20261201T210000-systemd-cookie-overrun-systemd-252.39-abc123"; filepath.Base(renamed) != want || rep.RunID != want {
		t.Errorf("run renamed to %s (RunID %s), want %s", filepath.Base(renamed), rep.RunID, want)
	}
	if _, err := os.Stat(renamed); err != nil {
		t.Error(err)
	}
}

func TestRunNameOfABuiltComponent(t *testing.T) {
	p := &Plan{Scenario: pipeHang, Resolved: map[string]versions.Resolved{"runc": {Component: "runc", Version: "v1.0.0-rc93"}}}
	c, v := p.judged()
	name := runName(time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC), p.Scenario.Name(), c, v, "abc123")
	if name != "20261201T210000-containerd-5261-runc-1.0.0-rc93-abc123" {
		t.Errorf("run name = %s", name)
	}
	if !strings.HasSuffix(name, "abc123") {
		t.Error("the random suffix ends the name: run directories use it")
	}
}
