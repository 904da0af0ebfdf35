package runcbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Every bug declared here is registered under its derived name, has an
// identity Check accepts, specs on both sides of the fix, nightly cells
// and a verdict table its Classify reaches.
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
			// A bug whose affected releases cannot be built shows its
			// affected side with the fix reverted.
			if !(kinds[kit.AffectedCase] || b.AffectedUnbuildable != "" && kinds[kit.FixRevertCase]) || !kinds[kit.FixedCase] {
				t.Errorf("specs: want an affected and a fixed case, got %+v", kit.Cases(b))
			}
			if len(kit.Groups(b)) == 0 {
				t.Error("no nightly cells")
			}
			for _, err := range kit.CheckExamples(b) {
				t.Error(err)
			}
		})
	}
}
