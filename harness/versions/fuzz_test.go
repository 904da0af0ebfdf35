package versions

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	modsemver "golang.org/x/mod/semver"
)

// FuzzParsePatch feeds patch files' text to the header parser: it never
// panics, and what it accepts is the whole file, hashed, with a header
// that stops at the diff and a Reverts-Fix that is one printable name.
func FuzzParsePatch(f *testing.F) {
	paths, _ := filepath.Glob("../../fixtures/patches/*/*.patch")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	if len(paths) == 0 {
		f.Fatal("no patches under fixtures/patches to seed from")
	}
	f.Add([]byte("# Reverts-Fix: runc#1\n--- a/x\n+++ b/x\n"))
	f.Add([]byte("# Reverts-Fix: runc#1\n# Reverts-Fix: runc#2\n--- a/x\n+++ b/x\n"))
	f.Add([]byte("# Reverts-Fix: \x1b[31mrunc#1\r\n--- a/x\r\n+++ b/x\r\n"))
	f.Add([]byte("--- a\n+++ b\n"))
	f.Add([]byte("diff --git a/x b/x\n# Reverts-Fix: runc#3\n--- a/x\n+++ b/x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePatch("dir/x.patch", data)
		if err != nil {
			if p.SHA256 != "" || p.RevertsFix != "" {
				t.Fatalf("a refused patch came back filled: %+v", p)
			}
			return
		}
		sum := sha256.Sum256(data)
		if p.SHA256 != hex.EncodeToString(sum[:]) || p.Diff != string(data) || p.Name != "x.patch" {
			t.Fatalf("accepted patch does not describe its file: name %q sha %s", p.Name, p.SHA256)
		}
		if !strings.Contains(p.Diff, "+++ ") {
			t.Fatal("accepted a file without a +++ line")
		}
		for _, line := range strings.Split(p.Header, "\n") {
			if strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "diff ") || strings.HasPrefix(line, "Index: ") {
				t.Fatalf("header runs into the diff: %q", line)
			}
		}
		if p.RevertsFix != "" {
			if !strings.Contains(p.Header, "# Reverts-Fix:") || !revertsFixPattern.MatchString(p.RevertsFix) {
				t.Fatalf("Reverts-Fix %q not from a header line of the right form", p.RevertsFix)
			}
			for _, r := range p.RevertsFix {
				if unicode.IsControl(r) {
					t.Fatalf("Reverts-Fix %q carries a control character", p.RevertsFix)
				}
			}
		}
		again, err := ParsePatch("dir/x.patch", data)
		if err != nil || again.RevertsFix != p.RevertsFix || again.Header != p.Header {
			t.Fatalf("parsing again gave %+v, %v", again, err)
		}
	})
}

// FuzzNormalize feeds version strings to every component's offline
// check: it never panics, and what it accepts is a version the Go module
// proxy can be asked for (golang.org/x/mod/semver) that normalizes to
// itself, so a matrix file's value and the CLI's mean the same build.
func FuzzNormalize(f *testing.F) {
	components := []Component{Runc, Containerd, Kubernetes}
	for _, c := range components {
		for _, p := range c.Pins {
			f.Add(p.Alias)
			f.Add(p.Version)
		}
	}
	for _, s := range []string{"", " ", "latest", "latest-1.4", "latest-1", "maintained", "git:/src/runc@main", "git:@main", "git:x@-f", "git:a b@c", "1.1", "1.1.14; id", "$(id)", "v1.0.0+build.1", "1.0.0-01", "1.0.0-rc.1+x",
		"01.1.1", "1.1.1\n", "v", "vv1.0.0", "1.0.0-", "99999999999999999999.0.0", "1.0.0+incompatible"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range components {
			v, err := c.Normalize(s)
			if err != nil {
				if v != "" {
					t.Fatalf("%s: refused %q but returned %q", c.Name, s, v)
				}
				continue
			}
			// A selector stays a selector: Resolve asks the proxy what it means.
			if sel, ok := ParseSelector(s); ok {
				if v != sel.Text {
					t.Fatalf("%s: selector %q normalized to %q", c.Name, s, v)
				}
				continue
			}
			if spec, ok, _ := ParseGit(s); ok {
				if v != spec.String() {
					t.Fatalf("%s: git source %q normalized to %q, want %q", c.Name, s, v, spec.String())
				}
				continue
			}
			if !modsemver.IsValid(v) || modsemver.Build(v) != "" {
				t.Fatalf("%s: %q normalized to %q, which is no Go module version", c.Name, s, v)
			}
			again, err := c.Normalize(v)
			if err != nil || again != v {
				t.Fatalf("%s: %q -> %q -> %q, %v: not a fixed point", c.Name, s, v, again, err)
			}
		}
	})
}
