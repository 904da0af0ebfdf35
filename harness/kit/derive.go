package kit

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/versions"
)

// CaseKind says what a derived spec shows.
type CaseKind int

const (
	// AffectedCase runs the last affected release: REPRODUCED.
	AffectedCase CaseKind = iota
	// FixedCase runs the first fixed or a maintained release: NOT REPRODUCED.
	FixedCase
	// FixRevertCase runs the first fixed release with the fix reverted:
	// REPRODUCED.
	FixRevertCase
	// GateOffCase runs the first fixed release with the fix's feature
	// gate off (Bug.FixGate): REPRODUCED.
	GateOffCase
)

// Case is one spec derived from a declaration.
type Case struct {
	// Name says what the spec runs ("1.1.11, the last affected release").
	Name string
	Kind CaseKind
	// Version is the component's version, or the maintained selector: the
	// spec runs every release it names.
	Version string
	// Patch is a patch's path from the repository root ("" for none).
	Patch string
	// Params are scenario parameters the case sets (the gate-off case's
	// feature gates).
	Params map[string]string
	Want   report.Result
}

// Cases are the specs a declaration implies: the last affected release
// reproduces, the first fixed and the maintained releases do not, and the
// first fixed release with its fix reverted does again.
func Cases(b *Bug) []Case {
	var cs []Case
	if b.AffectedUnbuildable == "" {
		cs = append(cs, Case{Name: b.LastAffected + ", the last affected release", Kind: AffectedCase, Version: b.LastAffected, Want: report.Reproduced})
	}
	cs = append(cs,
		Case{Name: b.FirstFixed + ", the first fixed release", Kind: FixedCase, Version: b.FirstFixed, Want: report.NotReproduced},
		Case{Name: "every maintained release", Kind: FixedCase, Version: versions.SelectMaintained, Want: report.NotReproduced})
	if b.Revert != "" {
		cs = append(cs, Case{Name: b.FirstFixed + " with " + b.FixID() + " reverted", Kind: FixRevertCase,
			Version: b.FirstFixed, Patch: b.RevertPath(), Want: report.Reproduced})
	}
	if b.FixGate != "" {
		cs = append(cs, Case{Name: b.FirstFixed + " with feature gate " + b.FixGate + " off", Kind: GateOffCase,
			Version: b.FirstFixed, Params: map[string]string{FeatureGatesParam: b.FixGate + "=false"}, Want: report.Reproduced})
	}
	return cs
}

// Group is a matrix file entry a declaration implies (harness/matrix
// turns each into its cells; ci/nightly.yaml's `kit: all` asks for all).
type Group struct {
	Name     string
	Scenario string
	Speed    string
	Versions map[string][]string
	Patches  map[string][]string
	// Params are scenario parameters per name (a bug's CellParams, the
	// gate-off canary's feature gates).
	Params   map[string][]string
	Provider []string
}

// Groups are the nightly's entries for a declaration: the last affected
// and first fixed releases and what ships now (maintained; the matrix
// adds upstream main where the nightly follows it), and the fix
// reverted as a canary.
func Groups(b *Bug) []Group {
	speed := "fast"
	if b.Slow {
		speed = "slow"
	}
	// The local node is the default: naming it would only lengthen IDs.
	var provider []string
	if b.Node() != "local" {
		provider = []string{b.Node()}
	}
	releases := []string{b.LastAffected, b.FirstFixed, versions.SelectMaintained}
	if b.AffectedUnbuildable != "" {
		releases = releases[1:]
	}
	gs := []Group{{Scenario: b.Name(), Speed: speed, Provider: provider, Params: b.CellParams,
		Versions: map[string][]string{b.Component: releases}}}
	if b.Revert != "" {
		gs = append(gs, Group{Name: b.Name() + "-revert", Scenario: b.Name(), Speed: speed, Provider: provider,
			Versions: map[string][]string{b.Component: {b.FirstFixed}},
			Patches:  map[string][]string{b.Component: {b.RevertPath()}}, Params: b.CellParams})
	}
	if b.FixGate != "" {
		gs = append(gs, Group{Name: b.Name() + "-gate-off", Scenario: b.Name(), Speed: speed, Provider: provider,
			Versions: map[string][]string{b.Component: {b.FirstFixed}},
			Params:   map[string][]string{FeatureGatesParam: {b.FixGate + "=false"}}})
	}
	return gs
}

// Endpoints are a bisection's ends: the last affected release is bad, the
// first fixed good (`relapse bisect --bad ... --good ...`).
func Endpoints(b *Bug) (bad, good string) { return b.LastAffected, b.FirstFixed }

// upstreamID is a CVE or an issue of a tracker ("runc#3952").
var upstreamID = regexp.MustCompile(`^(CVE-[0-9]{4}-[0-9]{4,}|[a-z][a-z0-9.-]*#[0-9]+)$`)

// Check says what a declaration lacks or gets wrong, every problem at once.
func Check(b *Bug) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !upstreamID.MatchString(b.ID) {
		bad("ID %q: want the upstream id, a CVE (CVE-2024-21626) or an issue (runc#3952)", b.ID)
	}
	if strings.HasPrefix(b.ID, "CVE-") && b.Advisory == "" {
		bad("a CVE needs its Advisory (the GHSA URL)")
	}
	if len(b.Fix) == 0 {
		bad("Fix: name the upstream change that fixed it (runc#3961)")
	}
	if b.Title == "" || b.Summary == "" {
		bad("Title and Summary: say what goes wrong and what the fix changed")
	}
	if err := checkComponent(b); err != nil {
		errs = append(errs, err)
	}
	if b.FixGate != "" && b.Component != "kubernetes" {
		bad("FixGate %q: only a kubelet bug (Component kubernetes) has feature gates the kit can turn off", b.FixGate)
	}
	last, first := "v"+strings.TrimPrefix(b.LastAffected, "v"), "v"+strings.TrimPrefix(b.FirstFixed, "v")
	switch {
	case !semver.IsValid(last) || !semver.IsValid(first):
		bad("LastAffected %q and FirstFixed %q: want release versions (1.1.11, 1.1.12)", b.LastAffected, b.FirstFixed)
	case semver.Compare(last, first) >= 0:
		bad("LastAffected %s is not before FirstFixed %s", b.LastAffected, b.FirstFixed)
	}
	if l := "v" + strings.TrimPrefix(b.FixGateLockedFrom, "v"); b.FixGateLockedFrom != "" &&
		(b.FixGate == "" || !semver.IsValid(l) || semver.Compare(l, first) <= 0) {
		bad("FixGateLockedFrom %q: want the release after FirstFixed %s that locked FixGate %q on", b.FixGateLockedFrom, b.FirstFixed, b.FixGate)
	}
	if b.FirstAffected != "" {
		if fa := "v" + strings.TrimPrefix(b.FirstAffected, "v"); !semver.IsValid(fa) || semver.Compare(fa, last) > 0 {
			bad("FirstAffected %q: want a release no later than LastAffected %s", b.FirstAffected, b.LastAffected)
		}
	}
	wants := map[report.Result]bool{}
	for _, e := range b.Examples {
		wants[e.Want] = true
	}
	if !wants[report.Reproduced] || !wants[report.NotReproduced] {
		bad("Examples: give the verdict table Classify must reach, with at least a REPRODUCED and a NOT REPRODUCED row (kit.Expect)")
	}
	if b.Control == nil || b.Trigger == nil || b.Classify == nil {
		bad("Control, Trigger and Classify are all needed")
	}
	if b.Sampling.Why == "" || b.Sampling.Fresh == "" {
		bad("Sampling: say why its repetitions suffice (Why) and what each makes afresh (Fresh)")
	}
	// Without a rate to rule out, a racy bug's clean repetitions never end.
	if !b.Sampling.Deterministic && (b.Sampling.RuleOut <= 0 || b.Sampling.RuleOut >= 1) {
		bad("Sampling: a bug that is not Deterministic needs RuleOut, the reproduction rate measured on affected releases (0 < RuleOut < 1)")
	}
	for _, n := range b.Nodes {
		if n != "local" && n != "qemu" && n != "vagrant" {
			bad("Nodes: %q is no node provider the kit runs (local, qemu, vagrant)", n)
		}
	}
	if b.Revert != "" {
		errs = append(errs, checkRevert(b))
	}
	if b.Component == "runc" {
		errs = append(errs, checkBuildable(b))
	}
	if b.AffectedUnbuildable != "" && b.Revert == "" {
		bad("AffectedUnbuildable: with no affected release to build, the Revert patch is the affected side; declare it")
	}
	return errors.Join(errs...)
}

// checkRevert checks the revert patch is among the fixtures and takes out
// the bug's own fix.
func checkRevert(b *Bug) error {
	if b.Fixtures == nil {
		return fmt.Errorf("revert patch %s: the bug has no Fixtures to hold it", b.Revert)
	}
	data, err := fs.ReadFile(b.Fixtures, b.Name()+"/"+b.Revert)
	if err != nil {
		return fmt.Errorf("revert patch: %w (fixtures live in %s/)", err, b.Name())
	}
	if !strings.Contains(string(data), "# Reverts-Fix: "+b.FixID()+"\n") {
		return fmt.Errorf("revert patch %s: its header must say \"# Reverts-Fix: %s\"", b.Revert, b.FixID())
	}
	return nil
}
