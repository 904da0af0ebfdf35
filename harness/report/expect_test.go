package report

import (
	"strings"
	"testing"
)

// pipeHang is the rc93 hang's record as the scenario has it (the
// scenario package is above report; its test checks the same record).
var pipeHang = Bug{ID: "containerd#5261", Component: "runc", Affected: ">= 1.0.0-rc93, < 1.0.0-rc94",
	Introduced: "v1.0.0-rc93 (runc#2750 added libcontainer/seccomp/patchbpf)", Fixed: "v1.0.0-rc94 (runc#2871 reads the pipe while libseccomp writes)"}

func TestExpectPipeHangAffectedRange(t *testing.T) {
	tests := []struct {
		version string
		want    Result
		why     string
	}{
		{"v1.0.0-rc93", Reproduced, "runc 1.0.0-rc93 is within the affected range >= 1.0.0-rc93, < 1.0.0-rc94"},
		{"1.0.0-rc93", Reproduced, "runc 1.0.0-rc93 is within the affected range >= 1.0.0-rc93, < 1.0.0-rc94"},
		{"v1.0.0-rc92", NotReproduced, "runc 1.0.0-rc92 is before the regression (affected range >= 1.0.0-rc93, < 1.0.0-rc94; introduced in " + pipeHang.Introduced + ")"},
		{"v1.0.0-rc94", NotReproduced, "runc 1.0.0-rc94 is outside the affected range"},
		{"v1.0.0-rc95", NotReproduced, "outside the affected range"},
		{"v1.0.0", NotReproduced, "runc 1.0.0 is outside"},
		{"v1.1.14", NotReproduced, "runc 1.1.14 is outside the affected range"},
		{"v0.1.1", NotReproduced, "runc 0.1.1 is before the regression"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			got, why, err := Expect(pipeHang, tt.version)
			if err != nil {
				t.Fatalf("Expect: %v", err)
			}
			if got != tt.want {
				t.Errorf("result = %s, want %s (%s)", got, tt.want, why)
			}
			if !strings.Contains(why, tt.why) {
				t.Errorf("why = %q, want it to contain %q", why, tt.why)
			}
		})
	}
}

func TestExpectErrors(t *testing.T) {
	bad := pipeHang
	bad.Affected = ">>= rc93"
	tests := []struct {
		name    string
		bug     Bug
		version string
		want    string
	}{
		{"bad constraint", bad, "v1.0.0-rc93", `bug containerd#5261 affected range ">>= rc93"`},
		{"bad version", pipeHang, "rc93", `version "rc93"`},
		{"empty version", pipeHang, "", `version ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why, err := Expect(tt.bug, tt.version)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if got != Inconclusive || why != "" {
				t.Errorf("result, why = %s, %q; want INCONCLUSIVE, empty", got, why)
			}
		})
	}
}

func TestBeforeRangeWithTwoIntervals(t *testing.T) {
	bug := Bug{ID: "kubernetes#92613", Component: "kubernetes", Affected: ">= 1.13.0, < 1.18.13 || >= 1.19.0, < 1.19.4", Fixed: "v1.19.4"}
	for v, want := range map[string]string{"1.12.10": "before the regression", "1.18.20": "outside the affected range", "1.19.4": "outside", "1.19.3": "within"} {
		_, why, err := Expect(bug, v)
		if err != nil || !strings.Contains(why, want) {
			t.Errorf("%s: %q %v; want %q", v, why, err, want)
		}
	}
}
