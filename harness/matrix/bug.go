package matrix

import (
	"github.com/relapse-dev/relapse/harness/versions"
)

// BugSpec is what the nightly needs of a bug to test what ships: the
// scenario that reproduces it, the component whose change fixed it, and
// the releases on either side of the fix.
type BugSpec struct {
	Scenario  string
	Component string
	// LastAffected is the newest release that has the bug, FirstFixed the
	// oldest that has the fix: the pair proves each night that the
	// detector still tells them apart (REPRODUCED, then NOT REPRODUCED).
	LastAffected, FirstFixed string
	// Speed is "fast" or "slow" (default fast), as in a matrix file.
	Speed string
	// Params are the scenario parameters every cell of the bug sets.
	Params map[string][]string
}

// followsMain are the components whose upstream main the nightly builds
// each night (git:upstream@main): those whose unreleased changes have
// broken their users before (runc for containerd's CI, containerd for
// Kubernetes'). Kubernetes' main is not built nightly: a build costs
// ~10 min and its releases are frequent.
var followsMain = map[string]bool{versions.Runc.Name: true, versions.Containerd.Name: true}

// BugGroup is the matrix group a bug's declaration stands for: its
// component at LastAffected and FirstFixed, at every line upstream
// maintains today ("maintained", one cell per line once a Night resolves
// it), and, for runc and containerd, at upstream main (git:upstream@main,
// run where Sources name a checkout). The scenario kit derives nightly
// cells for standard bugs from this; ci/nightly.yaml writes the same
// groups out, so a reader sees every cell.
func BugGroup(b BugSpec) Group {
	vs := []string{b.LastAffected, b.FirstFixed, versions.SelectMaintained}
	if followsMain[b.Component] {
		vs = append(vs, versions.GitPrefix+Upstream+"@main")
	}
	return Group{Scenario: b.Scenario, Speed: b.Speed, Versions: map[string][]string{b.Component: vs}, Params: b.Params}
}

// BugCells are the cells of the bugs' groups, checked as a matrix file's
// are (Parse): selectors and upstream refs still unresolved, for a Night
// to resolve.
func BugCells(bugs ...BugSpec) ([]Cell, error) {
	f := File{Name: "bugs"}
	for _, b := range bugs {
		f.Groups = append(f.Groups, BugGroup(b))
	}
	return f.checkedCells()
}
