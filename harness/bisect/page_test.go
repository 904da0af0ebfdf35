package bisect

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/markdown/mdcheck"
)

// Every string of a bisection (versions, commits, reasons, the bug, the
// boundaries, a "|" in any of them) stays text in bisect.md: no raw HTML,
// every row as wide as the header, no @mention outside code.
func TestMarkdownKeepsHostileTextText(t *testing.T) {
	r := &Result{}
	mdcheck.Fill(r, mdcheck.Hostile)
	r.Steps = append(r.Steps, r.Steps[0])
	if r.Steps[0].Version != mdcheck.Hostile || r.Boundaries[0].Skipped[0] != mdcheck.Hostile {
		t.Fatalf("Fill left fields unset: %+v", r)
	}
	out := Markdown(r)
	problems := mdcheck.Problems(out)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Logf("bisect.md:\n%s", out)
	}
	if strings.Count(out, "\n| ") != 1+len(r.Steps) {
		t.Errorf("bisect.md has %d table rows, want a header and %d steps:\n%s", strings.Count(out, "\n| "), len(r.Steps), out)
	}
}
