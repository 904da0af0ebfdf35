package runcbugs

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Every bug declared here is registered under its derived name, has an
// identity Check accepts, specs on both sides of the fix and nightly cells.
func TestEveryBugHasIdentitySpecsAndCells(t *testing.T) {
	if len(kit.Bugs()) == 0 {
		t.Fatal("no kit bug is registered")
	}
	for _, b := range kit.Bugs() {
		t.Run(b.Name(), func(t *testing.T) {
			if err := kit.Check(b); err != nil {
				t.Errorf("identity: %v", err)
			}
			if s, err := scenario.Lookup(b.Name()); err != nil || s.Bug().ID != b.ID {
				t.Errorf("not registered as %s: %v", b.Name(), err)
			}
			kinds := map[kit.CaseKind]bool{}
			for _, c := range kit.Cases(b) {
				kinds[c.Kind] = true
			}
			if !kinds[kit.AffectedCase] || !kinds[kit.FixedCase] {
				t.Errorf("specs: want an affected and a fixed case, got %+v", kit.Cases(b))
			}
			if len(kit.Groups(b)) == 0 {
				t.Error("no nightly cells")
			}
		})
	}
}

func TestCVE202421626Classify(t *testing.T) {
	control := kit.Observation{Ran: true, Facts: map[string]string{"marker": "not read (error: no such file or directory)"}}
	tests := []struct {
		name             string
		control, trigger kit.Observation
		want             report.Result
		reason           string
	}{
		{"the marker read through fd 7", control, kit.Observation{Ran: true, Facts: map[string]string{"marker": "read", "via": "/proc/self/fd/7", "reached": "5"}},
			report.Reproduced, "process.cwd=/proc/self/fd/7 read the marker"},
		{"every fd refused at its mkdir", control, kit.Observation{Facts: map[string]string{"reached": "8", "tries": "/proc/self/fd/3: did not start: mkdir /proc/self/fd/3: not a directory"}},
			report.NotReproduced, "no container started from /proc/self/fd/N"},
		{"the breakout check refused", control, kit.Observation{Facts: map[string]string{"reached": "1", "refused": "/proc/self/fd/7"}},
			report.NotReproduced, "runc refused process.cwd=/proc/self/fd/7"},
		{"nothing got to the cwd", control, kit.Observation{Facts: map[string]string{"reached": "0", "tries": "/proc/self/fd/3: did not start: permission denied"}},
			report.Inconclusive, "no trigger container got as far as its working directory"},
		{"the control read it too", kit.Observation{Ran: true, Facts: map[string]string{"marker": "read"}}, kit.Observation{Facts: map[string]string{"marker": "read"}},
			report.Inconclusive, "the control container read the marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := kit.Decide(cve202421626, tt.control, tt.trigger)
			if v.Result != tt.want || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("verdict = %s: %s; want %s saying %q", v.Result, v.Reason, tt.want, tt.reason)
			}
		})
	}
}
