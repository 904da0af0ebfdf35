package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// The file gets the content and mode asked for, and nothing is left
// beside it; a directory that cannot be written leaves the old file.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	info, _ := os.Stat(path)
	entries, _ := os.ReadDir(dir)
	if string(got) != "new" || info.Mode().Perm() != 0o644 || len(entries) != 1 {
		t.Errorf("content %q, mode %v, %d entries; want new, 0644, 1", got, info.Mode().Perm(), len(entries))
	}
	if err := Write(filepath.Join(dir, "missing", "x"), []byte("y"), 0o644); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
