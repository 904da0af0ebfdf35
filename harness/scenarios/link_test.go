package scenarios

import (
	"os"
	"testing"

	"github.com/relapse-dev/relapse/harness/scenarios/internal/linklist"
)

// Every scenario package is linked, and nothing else: zz_link.go is what
// the generator writes for the directories as they are.
func TestLinkFileIsCurrent(t *testing.T) {
	pkgs, err := linklist.Packages(".")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(linklist.FileName)
	if err != nil {
		t.Fatal(err)
	}
	if want := linklist.Render(pkgs); string(got) != want {
		t.Fatalf("%s is stale: run `go generate ./harness/scenarios` (or `make build`); want:\n%s", linklist.FileName, want)
	}
}
