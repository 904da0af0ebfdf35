package versions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// Patch is a change applied to a component's source tree before it is
// built: a unified diff with a/ and b/ prefixes, paths relative to the
// module root (`patch -p1`). Lines before the first diff are its header
// (patch ignores them); a header line "# Reverts-Fix: runc#2871" says the
// patch takes that upstream fix out, so the bug is expected back.
type Patch struct {
	// Name is the file's base name.
	Name string `json:"name"`
	// Path is where it was read from.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// RevertsFix is the upstream fix the patch takes out, from its header.
	RevertsFix string `json:"reverts_fix,omitempty"`
	// Header is the comment before the diff: what the patch is and why.
	Header string `json:"header,omitempty"`
	// Diff is the whole file.
	Diff string `json:"-"`
}

// MaxPatchBytes bounds a patch file: the largest relapse carries is a
// few KiB; a path to a device or a log by mistake must not be read whole.
const MaxPatchBytes = 16 << 20

// revertsFixPattern is what a Reverts-Fix header names: an upstream pull
// request (runc#2871) or a commit (linux 46c4c9d1beb7).
var revertsFixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+(#[0-9]+| [0-9a-f]{7,40})$`)

// LoadPatch reads a patch file and checks it is a unified diff.
func LoadPatch(path string) (Patch, error) {
	// Non-blocking, so that opening a FIFO returns at once; a FIFO or a
	// device (/dev/zero) would block or never end.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return Patch{}, fmt.Errorf("reading patch: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return Patch{}, fmt.Errorf("patch %s is not a regular file: give the path of a unified diff", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxPatchBytes+1))
	if err != nil {
		return Patch{}, fmt.Errorf("reading patch: %w", err)
	}
	if len(data) > MaxPatchBytes {
		return Patch{}, fmt.Errorf("patch %s is larger than %d MiB: not a patch relapse applies", path, MaxPatchBytes>>20)
	}
	return ParsePatch(path, data)
}

// ParsePatch reads a patch's text, read from path: a unified diff, and
// before it a header whose "# Reverts-Fix: <fix>" line, at most one, says
// which upstream fix it takes out.
func ParsePatch(path string, data []byte) (Patch, error) {
	text := string(data)
	if !strings.Contains(text, "\n--- ") && !strings.HasPrefix(text, "--- ") || !strings.Contains(text, "\n+++ ") {
		return Patch{}, fmt.Errorf("%s is not a unified diff (no ---/+++ file lines): make one with `diff -ru a b` or `git diff`, applied with patch -p1 in the module root", path)
	}
	sum := sha256.Sum256(data)
	p := Patch{Name: filepath.Base(path), Path: path, SHA256: hex.EncodeToString(sum[:]), Diff: text}
	var header []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "diff ") || strings.HasPrefix(line, "Index: ") {
			break
		}
		header = append(header, line)
		v, ok := strings.CutPrefix(line, "# Reverts-Fix:")
		if !ok {
			continue
		}
		// The fix names the bug's fix in reports and decides whether a
		// matrix cell is a canary: it must be one, and one name.
		v = strings.TrimSpace(v)
		if !revertsFixPattern.MatchString(v) {
			return Patch{}, fmt.Errorf("patch %s: Reverts-Fix %q: want the fix it takes out as <project>#<pull request> (runc#2871) or <project> <commit> (linux 46c4c9d1beb7)", path, v)
		}
		if p.RevertsFix != "" {
			return Patch{}, fmt.Errorf("patch %s: two Reverts-Fix lines (%s, %s): a patch takes out one fix; split it", path, p.RevertsFix, v)
		}
		p.RevertsFix = v
	}
	p.Header = strings.TrimSpace(strings.Join(header, "\n"))
	return p, nil
}

// PatchKey names a set of patches in a cache key: a short hash of their
// hashes, in order ("" for none).
func PatchKey(patches []Patch) string {
	if len(patches) == 0 {
		return ""
	}
	h := sha256.New()
	for _, p := range patches {
		fmt.Fprintln(h, p.SHA256)
	}
	return "p" + hex.EncodeToString(h.Sum(nil))[:12]
}

// applyPatches applies each patch to the tree at dir, a dry run first so
// that a patch that does not fit changes nothing and says which hunk.
func applyPatches(ctx context.Context, dir string, patches []Patch) error {
	for _, p := range patches {
		for _, dry := range []bool{true, false} {
			args := []string{"-p1", "--forward", "--batch", "--no-backup-if-mismatch"}
			if dry {
				args = append(args, "--dry-run")
			}
			cmd := exec.CommandContext(ctx, "patch", args...)
			cmd.Dir = dir
			cmd.Stdin = bytes.NewReader([]byte(p.Diff))
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("patch %s (sha256 %s) does not apply to this tree: %w\n%s", p.Path, p.SHA256[:12], err, out)
			}
		}
	}
	return nil
}

// patchCommands are the lines a build command applies the patches with;
// the patch files are next to where the command runs ("$out").
func patchCommands(patches []Patch) []string {
	var lines []string
	for _, p := range patches {
		lines = append(lines, fmt.Sprintf(" patch -p1 --forward --batch < \"$out/%s\"  # sha256 %s", p.Name, p.SHA256))
	}
	return lines
}

// FileSHA256 is the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
