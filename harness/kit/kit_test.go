package kit

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/relapse-dev/relapse/harness/report"
)

// valid is a declaration Check accepts; tests change one field at a time.
func valid() *Bug {
	noop := func(context.Context, *Run) (Observation, error) { return Observation{}, nil }
	return &Bug{ID: "runc#3952", Fix: []string{"runc#3961"}, Title: "t", Summary: "s", Component: "runc",
		FirstAffected: "1.1.8", LastAffected: "1.1.8", FirstFixed: "1.1.9",
		Sampling: report.Sampling{Deterministic: true, Why: "w", Fresh: "f"},
		Control:  noop, Trigger: noop,
		Classify: func(_, trigger Observation) Verdict {
			if trigger.Fact("mode") == "777" {
				return Verdict{Result: report.Reproduced, Reason: "lost", Kind: "k", Reasons: []string{"r"}}
			}
			return Verdict{Result: report.NotReproduced, Reason: "kept"}
		},
		Examples: []Example{
			Expect("lost", Ran(), Ran("mode", "777"), report.Reproduced, "lost"),
			Expect("kept", Ran(), Ran("mode", "1777"), report.NotReproduced, "kept"),
		}}
}

// A verdict table row the rule does not reach is named, and one that
// holds is not.
func TestCheckExamples(t *testing.T) {
	b := valid()
	if errs := CheckExamples(b); len(errs) != 0 {
		t.Fatalf("CheckExamples(valid) = %v", errs)
	}
	b.Examples = append(b.Examples, Expect("wrong", Ran(), Ran("mode", "777"), report.NotReproduced, "kept"))
	if errs := CheckExamples(b); len(errs) != 1 || !strings.Contains(errs[0].Error(), `"wrong": verdict REPRODUCED`) {
		t.Errorf("CheckExamples with a wrong row = %v, want the row named", errs)
	}
}

func TestNameFromUpstreamID(t *testing.T) {
	for id, want := range map[string]string{"CVE-2024-21626": "cve-2024-21626", "runc#3952": "runc-3952", "containerd#5261": "containerd-5261", "cri-o#4491": "cri-o-4491"} {
		if got := (&Bug{ID: id}).Name(); got != want {
			t.Errorf("Name(%s) = %s, want %s", id, got, want)
		}
	}
}

func TestCheckRefusesWhatIsMissing(t *testing.T) {
	if err := Check(valid()); err != nil {
		t.Fatalf("Check(valid) = %v", err)
	}
	tests := []struct {
		name string
		edit func(*Bug)
		want string
	}{
		{"no id", func(b *Bug) { b.ID = "" }, "want the upstream id"},
		{"a bare number", func(b *Bug) { b.ID = "3952" }, "want the upstream id"},
		{"a CVE without advisory", func(b *Bug) { b.ID = "CVE-2024-21626" }, "needs its Advisory"},
		{"no fix", func(b *Bug) { b.Fix = nil }, "Fix:"},
		{"no title", func(b *Bug) { b.Title = "" }, "Title and Summary"},
		{"fixed before affected", func(b *Bug) { b.LastAffected, b.FirstFixed = "1.1.9", "1.1.8" }, "is not before FirstFixed"},
		{"no versions", func(b *Bug) { b.LastAffected = "" }, "want release versions"},
		{"introduced after the last affected", func(b *Bug) { b.FirstAffected = "1.2.0" }, "no later than LastAffected"},
		{"no trigger", func(b *Bug) { b.Trigger = nil }, "Control, Trigger and Classify"},
		{"no verdict table", func(b *Bug) { b.Examples = nil }, "at least a REPRODUCED and a NOT REPRODUCED row"},
		{"no REPRODUCED row", func(b *Bug) { b.Examples = b.Examples[1:] }, "at least a REPRODUCED"},
		{"no sampling", func(b *Bug) { b.Sampling = report.Sampling{} }, "Sampling:"},
		{"racy without a rate", func(b *Bug) { b.Sampling.Deterministic = false }, "needs RuleOut"},
		{"an unknown node", func(b *Bug) { b.Nodes = []string{"kind"} }, `"kind" is no node provider`},
		{"a revert without fixtures", func(b *Bug) { b.Revert = "revert.patch" }, "no Fixtures"},
		{"a revert that is not there", func(b *Bug) { b.Revert = "revert.patch"; b.Fixtures = fstest.MapFS{} }, "fixtures live in runc-3952/"},
		{"a revert of another fix", func(b *Bug) {
			b.Revert = "revert.patch"
			b.Fixtures = fstest.MapFS{"runc-3952/revert.patch": {Data: []byte("# Reverts-Fix: runc#1\n")}}
		}, `must say "# Reverts-Fix: runc#3961"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := valid()
			tt.edit(b)
			if err := Check(b); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestDerivedRangeAndRecord(t *testing.T) {
	b := valid()
	if got := b.Affected(); got != ">= 1.1.8, < 1.1.9" {
		t.Errorf("Affected = %q", got)
	}
	b.FirstAffected = ""
	if got := b.Affected(); got != "< 1.1.9" {
		t.Errorf("Affected without FirstAffected = %q", got)
	}
	b.ID, b.Advisory = "CVE-2024-21626", "https://example.invalid/GHSA"
	r := b.Report()
	if r.Links[0].URL != b.Advisory || !strings.Contains(r.Summary, "advisory is public and the bug is fixed in 1.1.9") {
		t.Errorf("a security bug's record must link its advisory first and say it is public and fixed: %+v", r)
	}
}

func TestCasesAndGroups(t *testing.T) {
	b := valid()
	b.dir = "harness/scenarios/runcbugs"
	b.Revert = "revert-3961-v1.1.9.patch"
	cs := Cases(b)
	want := []struct {
		kind    CaseKind
		version string
		result  report.Result
	}{{AffectedCase, "1.1.8", report.Reproduced}, {FixedCase, "1.1.9", report.NotReproduced},
		{FixedCase, "maintained", report.NotReproduced}, {FixRevertCase, "1.1.9", report.Reproduced}}
	if len(cs) != len(want) {
		t.Fatalf("Cases = %+v", cs)
	}
	for i, w := range want {
		if cs[i].Kind != w.kind || cs[i].Version != w.version || cs[i].Want != w.result {
			t.Errorf("case %d = %+v, want %+v", i, cs[i], w)
		}
	}
	if cs[3].Patch != "harness/scenarios/runcbugs/runc-3952/revert-3961-v1.1.9.patch" {
		t.Errorf("revert path = %q", cs[3].Patch)
	}
	gs := Groups(b)
	if len(gs) != 2 || strings.Join(gs[0].Versions["runc"], " ") != "1.1.8 1.1.9 maintained" || gs[1].Patches["runc"][0] != cs[3].Patch || gs[0].Speed != "fast" {
		t.Errorf("Groups = %+v", gs)
	}
}

func TestDecideNeedsTheControl(t *testing.T) {
	b := valid()
	b.Classify = func(_, _ Observation) Verdict { return Verdict{Result: report.Reproduced, Reason: "r"} }
	if v := Decide(b, Observation{Failure: "mkdir failed"}, Observation{}); v.Result != report.Inconclusive || !strings.Contains(v.Reason, "mkdir failed") {
		t.Errorf("a control that did not run: %+v", v)
	}
	if v := Decide(b, Observation{Ran: true}, Observation{}); v.Result != report.Inconclusive {
		t.Errorf("REPRODUCED without a finding kind must not stand: %+v", v)
	}
}

func TestComplaint(t *testing.T) {
	said := "command failed on node local: runc run: exit status 1\nrunc run failed: mkdir /proc/self/fd/3: not a directory"
	if got := (Observation{Said: said}).Complaint(); got != "runc run failed: mkdir /proc/self/fd/3: not a directory" {
		t.Errorf("Complaint = %q", got)
	}
	if got := (Observation{Failure: "f"}).Complaint(); got != "f" {
		t.Errorf("Complaint without output = %q", got)
	}
}

func TestRepoDir(t *testing.T) {
	for file, want := range map[string]string{
		"/work/wt/kit/harness/scenarios/runcbugs/x.go":                   "harness/scenarios/runcbugs",
		"github.com/relapse-dev/relapse/harness/scenarios/runcbugs/x.go": "harness/scenarios/runcbugs",
	} {
		if got := repoDir(file); got != want {
			t.Errorf("repoDir(%s) = %s", file, got)
		}
	}
}

// The reproducer is valid shell, removes the markers on exit and runs the
// bundles in the order the run did.
func TestReproducerScript(t *testing.T) {
	r := &Run{}
	r.undo = []string{"rm -rf /run/relapse/run/x/markers", "rm -rf /run/relapse/run/x/markers"}
	r.Script("mkdir -p /run/relapse/run/x/markers && echo t > /run/relapse/run/x/markers/m  # the marker",
		"runc run --bundle control relapse-control  # control", "runc run --bundle fd7 relapse-fd7  # trigger")
	script := r.script(valid())
	if err := exec.Command("sh", "-n", "-c", script).Run(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, script)
	}
	if !strings.Contains(script, "trap 'rm -rf /run/relapse/run/x/markers' EXIT") || strings.Index(script, "control") > strings.Index(script, "fd7") {
		t.Errorf("script:\n%s", script)
	}
}
