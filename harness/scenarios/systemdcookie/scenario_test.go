package systemdcookie

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/systemdbus"
)

func TestParseSystemdVersion(t *testing.T) {
	for in, want := range map[string]string{
		"systemd 252 (252.39-1~deb12u2)": "252.39",
		"systemd 219":                    "219",
		"systemd 239 (239-58.el8)":       "239",
	} {
		got, err := parseSystemdVersion(in)
		if err != nil || got != want {
			t.Errorf("parseSystemdVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseSystemdVersion("upstart 1.5"); err == nil {
		t.Error("a non-systemd line must fail")
	}
}

func TestDecide(t *testing.T) {
	p := settings{consecutive: 5}
	move := systemdbus.CookieMove{Target: 0xffffffff - 300}
	r := &overrun{env: &scenario.Env{Run: &run.Run{Report: &report.Report{}}}}
	for name, tc := range map[string]struct {
		st              detect.BusState
		started, stuck  int
		dropped         bool
		want            report.Result
		reasonSubstring string
	}{
		"unresponsive":                 {detect.BusState{Unresponsive: true, Reasons: []string{"x"}, MaxCookie: 0xfffffff0}, 0, 2, false, report.Reproduced, "stopped answering"},
		"unresponsive before the wrap": {detect.BusState{Unresponsive: true, Reasons: []string{"x"}, MaxCookie: 4000}, 0, 2, false, report.Inconclusive, "not the overrun"},
		"wrapped and answering":        {detect.BusState{Wrapped: true, AnsweredAfterWrap: 40, MaxCookie: 0xffffffff}, 3, 0, false, report.NotReproduced, "wrapped"},
		"never wrapped":                {detect.BusState{MaxCookie: 0xfffff000}, 3, 0, false, report.Inconclusive, "did not reach the wrap"},
		"too few after wrap":           {detect.BusState{Wrapped: true, AnsweredAfterWrap: 2}, 3, 0, false, report.Inconclusive, "only 2"},
		"overrun, then PID 1 reconnected (252 with the fix reverted)": {detect.BusState{MaxCookie: 0xffffffff, SystemOK: 1005}, 2, 0, true, report.Inconclusive, "dropped its API bus connection and connected again"},
		"at 0xffffffff without a reconnect":                           {detect.BusState{MaxCookie: 0xffffffff}, 2, 0, false, report.Inconclusive, "did not reach the wrap"},
		"containers stuck":                                            {detect.BusState{Wrapped: true, AnsweredAfterWrap: 40}, 1, 2, false, report.Inconclusive, "did not start"},
	} {
		got, reason, err := r.decide(tc.st, move, p, tc.started, tc.stuck, tc.dropped)
		if err != nil || got != tc.want || !strings.Contains(reason, tc.reasonSubstring) {
			t.Errorf("%s: %s %q %v; want %s containing %q", name, got, reason, err, tc.want, tc.reasonSubstring)
		}
	}
	if f := r.env.Report.Findings; len(f) != 1 || f[0].Kind != detect.KindSystemdUnresponsive {
		t.Errorf("only the unresponsive case records a finding: %+v", f)
	}
}

func TestCheckNode(t *testing.T) {
	for _, ok := range []string{"qemu", "vagrant"} {
		if err := (Scenario{}).CheckNode(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := (Scenario{}).CheckNode("local"); err == nil || !strings.Contains(err.Error(), "PID 1's memory") {
		t.Errorf("local must be refused with the reason: %v", err)
	}
}
