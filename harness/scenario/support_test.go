package scenario_test

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/scenario"
)

// supported is runc-pipe-hang with ranges of its own, so the rule is
// tested apart from what any scenario declares today.
type supported struct {
	scenario.Scenario
	ranges []scenario.Support
}

func (s supported) Supports() []scenario.Support { return s.ranges }

func TestCheckSupport(t *testing.T) {
	s := supported{Scenario: pipeHang, ranges: []scenario.Support{
		{Component: "containerd", Range: ">= 1.5.0, < 3.0.0", Why: "no go.mod before 1.5"},
		{Component: "runc", Range: ">= 1.0.0-rc91", Why: "no go.mod before rc91"},
	}}
	for _, ok := range []map[string]string{
		{"containerd": "v1.5.0", "runc": "v1.0.0-rc91"},
		{"containerd": "v2.4.2", "runc": "v1.5.3"},
		// A git build of main is judged as the release it leads to.
		{"containerd": "v2.5.0-beta.0.20261201000000-abcdefabcdef", "runc": "v1.5.0-rc.1.0.20261201000000-76d9cf5da568"},
		// Not versions yet: checked once resolved.
		{"containerd": "latest", "runc": "git:/src/runc@main"},
		// A component the scenario declares nothing for.
		{"kubernetes": "v1.0.0"},
	} {
		if err := scenario.CheckSupport(s, ok); err != nil {
			t.Errorf("CheckSupport(%v) = %v", ok, err)
		}
	}
	for _, tc := range []struct {
		versions map[string]string
		want     []string
	}{
		{map[string]string{"containerd": "v1.4.13"}, []string{"containerd 1.4.13 is outside >= 1.5.0, < 3.0.0: no go.mod before 1.5"}},
		{map[string]string{"containerd": "v3.0.0-alpha.1"}, []string{"containerd 3.0.0-alpha.1 is outside"}},
		// A range naming a pre-release compares pre-releases as they are.
		{map[string]string{"runc": "v1.0.0-rc90"}, []string{"runc 1.0.0-rc90 is outside >= 1.0.0-rc91"}},
		{map[string]string{"containerd": "v1.4.13", "runc": "v1.0.0-rc90"}, []string{"containerd 1.4.13", "; runc 1.0.0-rc90", "see `relapse scenarios`"}},
	} {
		err := scenario.CheckSupport(s, tc.versions)
		if err == nil {
			t.Errorf("CheckSupport(%v) accepted", tc.versions)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("CheckSupport(%v) = %v, want %q", tc.versions, err, w)
			}
		}
	}
	bad := supported{Scenario: pipeHang, ranges: []scenario.Support{{Component: "runc", Range: "about 1.0", Why: "x"}}}
	if err := scenario.CheckSupport(bad, map[string]string{"runc": "v1.0.0"}); err == nil || !strings.Contains(err.Error(), `declares runc "about 1.0"`) {
		t.Errorf("a malformed range: %v", err)
	}
}

func TestDescribeSupportNamesOptionalComponents(t *testing.T) {
	lines := scenario.DescribeSupport(pipeHang)
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"runc >= 1.0.0-rc91: ", "containerd >= 1.5.0: ", "(built only when a containerd version is given)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("DescribeSupport lacks %q:\n%s", want, joined)
		}
	}
	if !scenario.IsOptional(pipeHang, "containerd") || scenario.IsOptional(pipeHang, "runc") {
		t.Error("runc-pipe-hang: containerd is optional, runc is not")
	}
}
