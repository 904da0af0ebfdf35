package containerdbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Every bug declared here passes the kit's rule for a declaration
// (kit.Verify), runs under containerd with the kit's runc, and builds
// both.
func TestEveryBugHasIdentitySpecsAndCells(t *testing.T) {
	n := 0
	for _, b := range kit.Bugs() {
		if b.Component != "containerd" {
			continue
		}
		n++
		t.Run(b.Name(), func(t *testing.T) {
			for _, err := range kit.Verify(b) {
				t.Error(err)
			}
			s, err := scenario.Lookup(b.Name())
			if err != nil {
				t.Fatal(err)
			}
			var built []string
			for _, c := range s.Components() {
				built = append(built, c.Target().Name)
			}
			if len(built) != 2 || built[0] != "containerd" || built[1] != "runc" {
				t.Errorf("components %v, want containerd and runc", built)
			}
			if d, ok := s.(scenario.WithDefaults); !ok || d.DefaultVersions()["runc"] == "" {
				t.Error("no default runc: a containerd bug runs the kit's runc, pinned")
			}
		})
	}
	if n == 0 {
		t.Fatal("no containerd bug is registered")
	}
}
