package scenarios

import (
	"os"
	"slices"
	"testing"

	"github.com/relapse-dev/relapse/harness/scenarios/internal/linklist"
)

// Every scenario package is linked, and nothing else: the link files are
// what the generator writes for the directories as they are.
func TestLinkFilesAreCurrent(t *testing.T) {
	files, err := linklist.Files(".")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("%s is stale: run `go generate ./harness/scenarios` (or `make build`); want:\n%s", name, want)
		}
	}
}

// The lean build keeps the scenarios the README's first command and the
// VM suites run without an engine, and leaves the cluster and containerd
// scenarios out.
func TestLeanBuildKeepsTheRuncScenarios(t *testing.T) {
	pkgs, err := linklist.Packages(".")
	if err != nil {
		t.Fatal(err)
	}
	lean, err := linklist.LeanPackages(".", pkgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"runcpipehang", "runcbugs", "systemdcookie"} {
		if !slices.Contains(lean, p) {
			t.Errorf("%s is not in the lean build (lean: %v)", p, lean)
		}
	}
	for _, p := range []string{"plegnotready", "containerdmetrics"} {
		if slices.Contains(lean, p) {
			t.Errorf("%s needs a heavy client but is in the lean build", p)
		}
	}
}
