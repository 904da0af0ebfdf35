package bisect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/browser"
	"github.com/relapse-dev/relapse/harness/markdown/mdcheck"
	"github.com/relapse-dev/relapse/harness/report"
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

// bisect.html holds at a desktop's and a small laptop's width with the
// pinned fonts, whatever the steps carry: git describe names of commits,
// full hashes, a reason with a long URL.
func TestPageFitsTheWindow(t *testing.T) {
	if _, err := browser.Binary(); err != nil {
		t.Skipf("skipped: %v", err)
	}
	dir := t.TempDir()
	long := "v1.0.0-rc93-217-g0123456789abcdef0123456789abcdef01234567-dirty+patched.revert-2871-v1.0.0-rc94.patch"
	why := `docker inspect (stuck container) failed after 10.01s: Get "http://%2Ftmp%2Frelapse%2F4392e5%2Fdocker%2Fdocker.sock/v1.41/containers/781766524b0f99bbce6458e8c9738175e4b44bb8302cbd8766c7fa142586ea97/json": context deadline exceeded`
	r := &Result{Scenario: "runc-pipe-hang-k8s-with-a-long-scenario-name", Component: "runc", Source: "/root/src/github.com/opencontainers/runc-with-a-long-checkout-path",
		Bug:        report.Bug{ID: "containerd#5261", Title: "runc init hangs writing its seccomp filter into a pipe shrunk by fs.pipe-user-pages-soft"},
		Boundaries: []Boundary{{Kind: "introduced", Before: long, After: long, Skipped: []string{long, long}}}}
	for i := 0; i < 6; i++ {
		r.Steps = append(r.Steps, Step{Version: long, Commit: strings.Repeat("0123456789abcdef", 2) + "01234567", Label: Bad, Why: why,
			Result: report.Reproduced, Rate: report.NewRate(1, 1), Seconds: 61, Report: filepath.Join(dir, "r")})
	}
	if err := os.MkdirAll(filepath.Join(dir, "r"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "r", "report.html"), []byte("report"), 0o644); err != nil {
		t.Fatal(err)
	}
	page, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range report.PageWidths {
		l, err := browser.Inspect(context.Background(), page, w, report.FirstScreen)
		if err != nil {
			t.Fatal(err)
		}
		if l.ScrollWidth > l.Viewport || len(l.Overflow) > 0 {
			t.Errorf("at %d px the page is %d px wide; outside their box:\n%s", w, l.ScrollWidth, strings.Join(l.Overflow, "\n"))
		}
		if bad := browser.Unresolved(page, l.Links); len(bad) > 0 {
			t.Errorf("links to nothing: %v", bad)
		}
	}
}
