package runcbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
)

// Every bug declared here is registered under its derived name, has an
// identity Check accepts, specs on both sides of the fix, nightly cells
// and a verdict table its Classify reaches.
func TestEveryBugHasIdentitySpecsAndCells(t *testing.T) {
	if len(kit.BugsOf("runc")) == 0 {
		t.Fatal("no kit bug is registered")
	}
	for _, b := range kit.BugsOf("runc") {
		t.Run(b.Name(), func(t *testing.T) {
			for _, err := range kit.Verify(b) {
				t.Error(err)
			}
		})
	}
}
