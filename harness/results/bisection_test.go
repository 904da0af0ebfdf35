package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/prowjob"
)

// An attached bisection is read as strictly as the cell's own files: a
// link, a FIFO or JSON relapse did not write is refused, naming the file.
func TestReadCellBisection(t *testing.T) {
	const good = `{"scenario":"runc-pipe-hang","component":"runc","selector":"latest","good":"v1.5.3","bad":"v1.5.4","first_bad":"v1.5.4","last_good":"v1.5.3","experiments":2,"seconds":40}`
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, dir string)
		want  string // "" to read it
	}{
		{"attached", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, BisectionName), good)
			write(t, filepath.Join(dir, BisectPageName), "<!doctype html>")
		}, ""},
		{"unknown field", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, BisectionName), `{"first_bad":"v1","verdict":"x"}`)
		}, "unknown field"},
		{"two objects", func(t *testing.T, dir string) { write(t, filepath.Join(dir, BisectionName), good+good) }, "text after the JSON object"},
		{"a link", func(t *testing.T, dir string) {
			write(t, filepath.Join(t.TempDir(), "elsewhere"), good)
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, BisectionName)); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
		{"a linked page", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, BisectionName), good)
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, BisectSummaryName)); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			cell(t, root, "c", 100, true, runcMeta("1.5.4", "REPRODUCED"))
			dir := filepath.Join(root, "c", prowjob.ArtifactsName, BisectDir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, dir)
			e, err := ReadCell(filepath.Join(root, "c"))
			if tc.want != "" {
				var ce *CellError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(ce.File, BisectDir) {
					t.Fatalf("error %v, want a CellError naming the bisect file and saying %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !e.Bisection.Found() || e.Bisection.Line() != "bisected: first bad runc v1.5.4, last good v1.5.3" || e.BisectPage == "" || e.BisectSummary != "" {
				t.Errorf("bisection %+v page %q summary %q", e.Bisection, e.BisectPage, e.BisectSummary)
			}
		})
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
