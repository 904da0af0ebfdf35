package kit

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Bug declares one upstream bug. Fill it in one file, call Register from
// that file's init, and put its fixtures beside it under a directory
// named after the bug (embedded into Fixtures).
type Bug struct {
	// ID is the upstream id the bug is known by: a CVE ("CVE-2024-21626")
	// or an issue ("runc#3952", "containerd#5261"). The CLI name is
	// derived from it (Name).
	ID string
	// Aliases are older CLI names scripts may still use.
	Aliases []string
	// Fix names the upstream changes that fixed it ("runc#3961"); the
	// first is the one a revert patch's "# Reverts-Fix:" header names.
	Fix []string
	// Advisory is the security advisory's URL, for a CVE.
	Advisory string
	Title    string
	// Summary says what goes wrong, why, and what the fix changed.
	Summary string
	Links   []report.Link

	// Component is the component whose version decides: "runc"; an
	// engine's ("containerd"), whose bugs run under that engine (Engine);
	// or "kubernetes" for a kubelet bug, which runs on a one-node cluster
	// (cluster.go).
	Component string
	// FirstAffected is the first affected release ("" when the bug is
	// older than anything relapse can build); IntroducedBy the change
	// that brought it in, when known.
	FirstAffected, IntroducedBy string
	// LastAffected and FirstFixed are the releases on either side of the
	// fix: the affected spec and cell run the first, the fixed ones the
	// second (and the maintained releases).
	LastAffected, FirstFixed string
	// Revert, when set, is a patch in Fixtures that takes the fix out of
	// FirstFixed: the fix-revert spec and canary cell run it.
	Revert string
	// AffectedUnbuildable says why no affected release can be built (the
	// module proxy cannot build releases without a go.mod), "" when the
	// last affected one builds. Revert is then the affected side: the
	// specs and cells run it instead of LastAffected.
	AffectedUnbuildable string
	// FixGate, when set, is the feature gate that turns the fix off
	// ("ExecProbeTimeout"): the gate-off spec runs FirstFixed with it
	// false and must reproduce, the analogue of a revert for a fix
	// that shipped behind a gate.
	FixGate string
	// FixGateLockedFrom is the first release that locks FixGate on
	// (kubelet then refuses to start with it off): a gate-off run is
	// refused from there, as before FirstFixed, which has no such gate.
	FixGateLockedFrom string
	// Fixtures are the bug's files (embed.FS of its fixture directory).
	Fixtures fs.FS

	// Nodes are the node providers it runs on, the first the default
	// ("local"; "qemu" for what needs its own kernel or systemd).
	Nodes []string
	// Slow keeps its specs out of `make test` and its cells out of `make
	// nightly` (a VM node, a build from source).
	Slow bool
	// Runc says how the runc under test runs (SystemdCgroup for a bug of
	// the systemd cgroup driver, which needs a qemu node).
	Runc runckit.Options
	// Pins are the versions of the other components it runs with unless
	// told otherwise ({"runc": "1.1.12"} for a containerd bug), over its
	// engine's defaults.
	Pins map[string]string
	// Needs are what the bug needs of its engine beyond a bare daemon
	// ("cri": containerd's CRI service and a pause image), among what the
	// engine Offers.
	Needs    []string
	Sampling report.Sampling
	Params   []scenario.Param
	// Hooks are what it needs around its containers beyond the runc
	// under test (hooks.go): most bugs need none.
	Hooks Hooks
	// CellParams are Params values every nightly cell runs with, each
	// value a cell of its own ({"engine": {"runc", "podman"}}); the specs
	// run the defaults.
	CellParams map[string][]string

	// Control runs what the trigger runs without the trigger; Trigger
	// runs it armed. Each returns what it saw; an error is the harness's
	// own failure.
	Control, Trigger func(ctx context.Context, r *Run) (Observation, error)
	// Classify decides from the two observations. It is pure, so unit
	// tests feed it observations. It runs only when the control ran: a
	// control that did not is INCONCLUSIVE before Classify is asked.
	Classify func(control, trigger Observation) Verdict
	// Examples are observations and what Classify must decide on them:
	// the bug's verdict table, run for every bug by the unit tests
	// (CheckExamples), beside the rule it tests. Check wants at least a
	// REPRODUCED and a NOT REPRODUCED one.
	Examples []Example

	// dir is the repository path of the directory the declaring file is
	// in (Register reads it), where the revert patch lives for specs and
	// cells that take patches by path.
	dir string
}

// Observation is what one side (control or trigger) saw.
type Observation struct {
	// Ran is true when the container's init ran and reported.
	Ran bool
	// Facts are the bug's own observations ("marker": "read through fd 7").
	Facts map[string]string
	// Said is what runc or the container printed when it failed.
	Said string
	// Failure says why it did not run.
	Failure string
}

// Ran is an observation of a side that ran, with its facts as pairs
// ("mode", "1777", ...): what a bug's Examples are written with.
func Ran(kv ...string) Observation {
	o := Observation{Ran: true, Facts: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Facts[kv[i]] = kv[i+1]
	}
	return o
}

// Refused is a side runc would not start, with what it printed.
func Refused(said string) Observation {
	return Observation{Failure: "runc did not start it", Said: said}
}

// Example is one row of a bug's verdict table.
type Example struct {
	Name             string
	Control, Trigger Observation
	Want             report.Result
	// Says is a part of the verdict's reason the row expects.
	Says string
}

// Expect is an Example: with control and trigger observed, the bug's
// rule (Decide) reaches want, its reason saying says.
func Expect(name string, control, trigger Observation, want report.Result, says string) Example {
	return Example{Name: name, Control: control, Trigger: trigger, Want: want, Says: says}
}

// CheckExamples runs a bug's Examples through Decide and says, per
// example, where the verdict differs; a REPRODUCED one must also name
// its finding and give its evidence.
func CheckExamples(b *Bug) []error {
	var errs []error
	for _, e := range b.Examples {
		v := Decide(b, e.Control, e.Trigger)
		if v.Result != e.Want || !strings.Contains(v.Reason, e.Says) {
			errs = append(errs, fmt.Errorf("%s: %q: verdict %s: %s; want %s saying %q", b.Name(), e.Name, v.Result, v.Reason, e.Want, e.Says))
		}
		if v.Result == report.Reproduced && (v.Kind == "" || len(v.Reasons) == 0) {
			errs = append(errs, fmt.Errorf("%s: %q: REPRODUCED without its finding: kind %q, reasons %q", b.Name(), e.Name, v.Kind, v.Reasons))
		}
	}
	return errs
}

// Fact is a fact's value, "" when absent.
func (o Observation) Fact(name string) string { return o.Facts[name] }

// Complaint is what runc said went wrong, in its own words
// (runckit.RuncComplaint of Said), else the failure ("" when the side
// ran).
func (o Observation) Complaint() string {
	if msg := runckit.RuncComplaint(o.Said); msg != "" {
		return msg
	}
	return o.Failure
}

// Verdict is what Classify decided.
type Verdict struct {
	Result report.Result
	// Reason is the one line the report's verdict says.
	Reason string
	// Kind names the finding a REPRODUCED verdict records; Reasons are
	// its evidence, one line each.
	Kind    string
	Reasons []string
}

// Name is the CLI name derived from the upstream id: lower case, with
// "#" and "/" made "-" ("CVE-2024-21626" -> "cve-2024-21626",
// "runc#3952" -> "runc-3952").
func (b *Bug) Name() string {
	return strings.NewReplacer("#", "-", "/", "-", " ", "-").Replace(strings.ToLower(b.ID))
}

// FixID is the first fix ("" when none is declared).
func (b *Bug) FixID() string {
	if len(b.Fix) == 0 {
		return ""
	}
	return b.Fix[0]
}

// Affected is the semver range the declaration implies.
func (b *Bug) Affected() string {
	fixed := strings.TrimPrefix(b.FirstFixed, "v")
	if b.FirstAffected == "" {
		return "< " + fixed
	}
	return ">= " + strings.TrimPrefix(b.FirstAffected, "v") + ", < " + fixed
}

// Security says whether the bug has an advisory.
func (b *Bug) Security() bool { return b.Advisory != "" }

// Report is the report's record of the bug. A security bug's summary
// says its advisory is public and the bug fixed, and links it first.
func (b *Bug) Report() report.Bug {
	introduced := "always: older than any release relapse can build"
	if b.FirstAffected != "" {
		introduced = b.FirstAffected
		if b.IntroducedBy != "" {
			introduced += " (" + b.IntroducedBy + ")"
		}
	}
	summary, links := b.Summary, b.Links
	if b.Security() {
		summary += fmt.Sprintf(" The advisory is public and the bug is fixed in %s: this report reproduces a disclosed, fixed vulnerability.", b.FirstFixed)
		links = append([]report.Link{{Title: b.ID + " security advisory", URL: b.Advisory}}, links...)
	}
	return report.Bug{ID: b.ID, Fix: b.FixID(), Title: b.Title, Summary: summary, Links: links,
		Component: b.Component, Affected: b.Affected(), Introduced: introduced,
		Fixed: b.FirstFixed + " (" + strings.Join(b.Fix, ", ") + ")"}
}

// Node is the bug's default node provider.
func (b *Bug) Node() string { return b.nodes()[0] }

// nodes are the providers it runs on: Nodes, or the local node alone.
func (b *Bug) nodes() []string {
	if len(b.Nodes) == 0 {
		return []string{"local"}
	}
	return b.Nodes
}

// RevertPath is the revert patch's path from the repository root ("" when
// none): matrix files and specs take patches by path.
func (b *Bug) RevertPath() string {
	if b.Revert == "" {
		return ""
	}
	return path.Join(b.dir, b.Name(), b.Revert)
}

// bugs are the registered declarations, in registration order.
var bugs []*Bug

// Register checks a declaration and registers it as a scenario under its
// derived name, and its aliases as older names of it; call it from the
// declaring file's init. A declaration Check
// refuses panics: it is a programming error the unit tests catch.
func Register(b *Bug) {
	_, file, _, _ := runtime.Caller(1)
	b.dir = repoDir(file)
	if err := Check(b); err != nil {
		panic(fmt.Sprintf("kit: bug %s: %v", b.ID, err))
	}
	bugs = append(bugs, b)
	scenario.Register(scenarioFor(b))
	for _, a := range b.Aliases {
		scenario.Alias(a, b.Name())
	}
}

// Bugs lists the registered declarations.
func Bugs() []*Bug { return append([]*Bug(nil), bugs...) }

// Lookup finds a registered bug by name or alias.
func Lookup(name string) (*Bug, bool) {
	for _, b := range bugs {
		if b.Name() == name || slices.Contains(b.Aliases, name) {
			return b, true
		}
	}
	return nil, false
}

// module is the module path a -trimpath build names files under.
const module = "github.com/relapse-dev/relapse/"

// repoDir is the repository path of the directory holding file, as the
// compiler recorded it: an absolute path in an ordinary build, the
// module path with -trimpath.
func repoDir(file string) string {
	dir := path.Dir(file)
	if rel, ok := strings.CutPrefix(dir, module); ok {
		return rel
	}
	if i := strings.Index(dir, "/harness/"); i >= 0 {
		return dir[i+1:]
	}
	return dir
}
