package versions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/mod/modfile"
)

// Source is a local tree - a git checkout or any directory holding the
// component's module - built instead of a release from the module proxy
// (the proxy serves releases only; commits need a checkout).
type Source struct {
	Dir string `json:"dir"`
	// Module is the tree's module path (Module/v2 for a 2.x tree).
	Module string `json:"module,omitempty"`
	// Commit is the checkout's HEAD ("" when Dir is not a git checkout).
	Commit string `json:"commit,omitempty"`
	// Describe is `git describe --tags --always` of HEAD.
	Describe string `json:"describe,omitempty"`
	// Dirty is set when the checkout has uncommitted changes.
	Dirty bool `json:"dirty"`
	// Key identifies the tree's content: the commit, with a hash of the
	// uncommitted changes when dirty; a hash of every file without git.
	Key string `json:"key"`
}

// ReadSource inspects a local tree of the component's module.
func (c Component) ReadSource(ctx context.Context, dir string) (Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Source{}, err
	}
	gomod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return Source{}, fmt.Errorf("--source %s=%s: no go.mod there: give the root of a %s checkout", c.Name, dir, c.Module)
	}
	mod := modfile.ModulePath(gomod)
	if !c.isModule(mod) {
		return Source{}, fmt.Errorf("--source %s=%s: the tree is module %q, not %s's %s (or %s/vN)", c.Name, dir, mod, c.Name, c.Module, c.Module)
	}
	s := Source{Dir: abs, Module: mod}
	if out, err := gitIn(ctx, abs, "rev-parse", "HEAD"); err == nil {
		s.Commit = out
		s.Describe, _ = gitIn(ctx, abs, "describe", "--tags", "--always")
		status, _ := gitIn(ctx, abs, "status", "--porcelain")
		s.Dirty = status != ""
		s.Key = s.Commit[:12]
		if s.Dirty {
			h, err := dirtyHash(ctx, abs)
			if err != nil {
				return Source{}, err
			}
			s.Key += "-dirty-" + h
		}
		return s, nil
	}
	h, err := treeHash(abs)
	if err != nil {
		return Source{}, err
	}
	s.Key = "tree-" + h
	return s, nil
}

// ResolveSource makes a Resolved for a local tree. Its version is what
// `git describe` says when that is a semantic version (a commit past a tag
// reads as a pre-release of it), else v0.0.0 with the tree's key.
func (c Component) ResolveSource(ctx context.Context, dir string) (Resolved, error) {
	s, err := c.ReadSource(ctx, dir)
	if err != nil {
		return Resolved{}, err
	}
	version := "v0.0.0-source-" + strings.ReplaceAll(s.Key, "-", ".")
	if v, err := semver.NewVersion(strings.TrimPrefix(s.Describe, "v")); err == nil && s.Describe != "" {
		version = "v" + v.String()
	}
	return Resolved{Component: c.Name, Module: s.Module, Requested: "source:" + s.Dir, Version: version,
		Dir: s.Dir, Source: &s}, nil
}

// gitIn runs git in dir and returns its output, trimmed; a failure carries
// what git said, so a failed clone or fetch says why.
func gitIn(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	// No prompt for credentials: a nightly has nobody to answer it.
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// dirtyHash hashes a checkout's uncommitted changes: the diff against HEAD
// and every untracked file that is not ignored.
func dirtyHash(ctx context.Context, dir string) (string, error) {
	h := sha256.New()
	diff, err := exec.CommandContext(ctx, "git", "-C", dir, "diff", "HEAD", "--binary").Output()
	if err != nil {
		return "", fmt.Errorf("git diff in %s: %w", dir, err)
	}
	h.Write(diff)
	others, err := gitIn(ctx, dir, "ls-files", "--others", "--exclude-standard")
	if err != nil {
		return "", err
	}
	for _, f := range strings.Fields(others) {
		if err := hashFile(h, dir, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// treeHash hashes every file of a directory (names and contents).
func treeHash(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		if err := hashFile(h, dir, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func hashFile(h io.Writer, dir, rel string) error {
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "%s\x00", rel)
	_, err = io.Copy(h, f)
	return err
}
