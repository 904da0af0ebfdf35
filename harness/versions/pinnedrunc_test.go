package versions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPinnedRunc(t *testing.T) {
	for _, tt := range []struct {
		name, content string
		want, wantErr string
	}{
		{"a release", "v1.1.0\n", "v1.1.0", ""},
		{"a release candidate", "v1.0.0-rc93", "v1.0.0-rc93", ""},
		{"two words", "v1.1.0 v1.1.1\n", "", "not one runc version"},
		{"not a version", "main\n", "", `names "main"`},
		{"no file", "", "", "names no runc"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				p := filepath.Join(dir, runcVersionFile)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readPinnedRunc(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readPinnedRunc = %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("readPinnedRunc = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
