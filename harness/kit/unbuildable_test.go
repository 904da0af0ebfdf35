package kit

import (
	"strings"
	"testing"
	"testing/fstest"
)

// A bug whose affected releases cannot be built has no spec or cell on
// its last affected release: the fix reverted onto the first fixed one is
// its affected side, so Check wants that revert. Check wants the reason
// declared exactly when relapse cannot build the last affected release.
func TestAffectedUnbuildable(t *testing.T) {
	b := valid()
	b.dir = "harness/scenarios/runcbugs"
	b.FirstAffected, b.LastAffected, b.FirstFixed = "", "1.0.0-rc90", "1.0.0-rc91"
	if err := Check(b); err == nil || !strings.Contains(err.Error(), "say why in AffectedUnbuildable") {
		t.Errorf("Check of an unbuildable LastAffected without the reason = %v", err)
	}
	b.AffectedUnbuildable = "no go.mod before rc91"
	if err := Check(b); err == nil || !strings.Contains(err.Error(), "declare it") {
		t.Errorf("Check without Revert = %v, want the Revert asked for", err)
	}
	b.Revert = "revert-3961-v1.0.0-rc91.patch"
	b.Fixtures = fstest.MapFS{"runc-3952/" + b.Revert: {Data: []byte("# Reverts-Fix: runc#3961\n")}}
	if err := Check(b); err != nil {
		t.Fatalf("Check = %v", err)
	}
	for _, c := range Cases(b) {
		if c.Kind == AffectedCase || c.Version == b.LastAffected {
			t.Errorf("a case runs the unbuildable last affected release: %+v", c)
		}
	}
	if cs := Cases(b); len(cs) != 3 || cs[2].Kind != FixRevertCase {
		t.Errorf("Cases = %+v, want both fixed cases and the revert", cs)
	}
	gs := Groups(b)
	if len(gs) != 2 || strings.Join(gs[0].Versions["runc"], " ") != "1.0.0-rc91 maintained" || gs[1].Patches["runc"][0] == "" {
		t.Errorf("Groups = %+v", gs)
	}
	b.LastAffected, b.FirstFixed = "1.1.8", "1.1.9"
	if err := Check(b); err == nil || !strings.Contains(err.Error(), "relapse builds LastAffected 1.1.8") {
		t.Errorf("Check of a buildable LastAffected declared unbuildable = %v", err)
	}
}
