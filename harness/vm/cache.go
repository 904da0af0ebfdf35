package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/textutil"
)

// CachedDir returns dir when a finished build is there, else builds it:
// build fills a temporary sibling that is renamed into place only when
// complete, so a killed build never leaves a half-made image that a later
// run would trust. Concurrent runs serialise on a lock file.
func CachedDir(ctx context.Context, dir string, build func(ctx context.Context, tmp string) error) (built bool, err error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return false, fmt.Errorf("locking %s: %w", dir, err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, doneMarker)); err == nil {
		return false, nil
	}
	tmp := dir + ".partial"
	// A partial build of a killed run is worthless: start again.
	if err := os.RemoveAll(tmp); err != nil {
		return false, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return false, err
	}
	if err := build(ctx, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return false, err
	}
	if err := os.WriteFile(filepath.Join(tmp, doneMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return false, err
	}
	_ = os.RemoveAll(dir)
	return true, os.Rename(tmp, dir)
}

const doneMarker = ".complete"

// HashKey is a short content hash of whatever decides a cache entry.
func HashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		_, _ = io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Run runs a host command for an image build; the error carries the
// command line and its output.
func Run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, textutil.LastLines(string(out), 30))
	}
	return nil
}

// WriteJSON writes v as indented JSON.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// ReadJSON reads JSON at path into v.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// requireTools names the Debian packages that provide missing host tools.
func requireTools(tools map[string]string) error {
	var missing []string
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", tool, pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("VM nodes need tools that are missing on this host: %s; run `make deps`", strings.Join(missing, ", "))
	}
	return nil
}
