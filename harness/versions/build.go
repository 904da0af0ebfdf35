package versions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/privdir"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// Recipe says how to build one binary of a component with `go install`.
type Recipe struct {
	Component Component
	// Package is the main package path inside the module ("" for the module root).
	Package string
	Binary  string
	Tags    []string
	// LDFlags returns the -ldflags for a version (version stamping).
	LDFlags func(r Resolved) string
	// Requires checks build prerequisites and says how to get what is missing.
	Requires func() error
}

// RuncRecipe builds runc with seccomp support, the way distributions do.
var RuncRecipe = Recipe{
	Component: Runc,
	Binary:    "runc",
	Tags:      []string{"seccomp"},
	LDFlags: func(r Resolved) string {
		// Without main.version `runc --version` prints an empty version.
		return fmt.Sprintf("-X main.version=%s -X main.gitCommit=%s", r.SemVer(), r.CommitStamp())
	},
	Requires: requireLibseccompHeaders,
}

// tree is the same build as a TreeRecipe: the binary from a copy of the
// module tree, with the module's own dependency versions (-mod=mod: a
// module zip's go.sum may lack entries for packages it never built).
func (rc Recipe) tree() TreeRecipe {
	pkg := rc.Package
	if pkg == "" {
		pkg = "."
	}
	return TreeRecipe{Component: rc.Component, Binaries: map[string]string{rc.Binary: pkg}, Tags: rc.Tags,
		LDFlags: rc.LDFlags, PathTo: rc.Binary, ModFlag: "-mod=mod", Requires: rc.Requires}
}

// Artifact is a built binary and what it was built from.
type Artifact struct {
	Resolved
	Path      string   `json:"path"`
	GoVersion string   `json:"go_version"`
	Tags      []string `json:"tags"`
	CacheKey  string   `json:"cache_key"`
	// Cached is true when the binary came from the cache in this run.
	Cached       bool      `json:"cached"`
	BuildSeconds float64   `json:"build_seconds"`
	BuiltAt      time.Time `json:"built_at"`
	// BuildCommand can be pasted to build the same binary by hand.
	BuildCommand string `json:"build_command"`
}

// CacheDir is where relapse keeps builds: $RELAPSE_CACHE, else
// ~/.cache/relapse. Without a home directory it falls back to
// /tmp/relapse-cache, which any user could make first and fill with
// binaries relapse would run as root: that one must be relapse's own
// (privdir: made by it, mode 0700) or it is refused.
func CacheDir() (string, error) {
	if d := os.Getenv("RELAPSE_CACHE"); d != "" {
		return d, nil
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "relapse"), nil
	}
	fallback := filepath.Join(os.TempDir(), "relapse-cache")
	if err := privdir.Ensure(fallback); err != nil {
		return "", fmt.Errorf("no home directory for the build cache, and its fallback: %w; or set RELAPSE_CACHE (or HOME)", err)
	}
	return fallback, nil
}

// ModuleFreeDir is where go commands that need no module of relapse's
// run (listing or downloading a version): "/", which only root can write.
// In /tmp another user could plant a go.mod or go.work that changes what
// they answer.
const ModuleFreeDir = "/"

// goEnv pins the toolchain to the installed one: a version switch in the
// middle of an experiment would change what is being measured.
func goEnv() []string {
	return append(os.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=1")
}

// GoVersion is the version of the go command on PATH.
func GoVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w (is Go installed and on PATH?)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Build returns the binary for r, from the cache when it is there. A
// patched release or a local tree is built from a copy of its tree
// (TreeRecipe), as `go install pkg@version` cannot patch.
func (rc Recipe) Build(ctx context.Context, r Resolved, cacheRoot string) (Artifact, error) {
	if r.Modified() {
		return rc.tree().Build(ctx, r, cacheRoot)
	}
	command := rc.command(r)
	return cacheEntry{component: rc.Component.Name, tags: rc.Tags, path: rc.Binary,
		outputs: []string{rc.Binary}, command: command, requires: rc.Requires,
		build: func(dir string) error {
			tmp, err := os.MkdirTemp(dir, "gobin-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			cmd := exec.CommandContext(ctx, "go", rc.args(r)...)
			// Outside any module, so go install honours only the requested version.
			cmd.Dir = tmp
			cmd.Env = append(goEnv(), "GOBIN="+tmp)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("building %s %s failed: %s: %w\n%s", rc.Component.Name, r.Version, command, err, out)
			}
			if err := os.Rename(filepath.Join(tmp, rc.Binary), filepath.Join(dir, rc.Binary)); err != nil {
				return fmt.Errorf("moving %s into the cache: %w", rc.Binary, err)
			}
			return nil
		}}.get(ctx, r, cacheRoot)
}

// cacheEntry is one build in the cache, builds/<component>/<version>_<go>_<tags>.
// Recipe and TreeRecipe differ only in how they build.
type cacheEntry struct {
	component string
	tags      []string
	// path is Artifact.Path relative to the entry ("" for the entry itself).
	path string
	// outputs are the files a finished build leaves in the entry.
	outputs  []string
	command  string
	requires func() error
	// build puts the outputs into the entry directory dir.
	build func(dir string) error
}

// get returns the entry's artifact, building it under the entry's lock
// unless a record for the same source hash and all outputs are there.
func (e cacheEntry) get(ctx context.Context, r Resolved, cacheRoot string) (Artifact, error) {
	goVersion, err := GoVersion(ctx)
	if err != nil {
		return Artifact{}, err
	}
	parts := []string{r.Version, goVersion, strings.Join(e.tags, "+")}
	if r.Source != nil {
		parts = append(parts, "src-"+r.Source.Key)
	}
	if k := PatchKey(r.Patches); k != "" {
		parts = append(parts, k)
	}
	key := strings.Join(parts, "_")
	dir := filepath.Join(cacheRoot, "builds", e.component, key)
	art := Artifact{Resolved: r, Path: filepath.Join(dir, e.path), GoVersion: goVersion,
		Tags: e.tags, CacheKey: key, BuildCommand: e.command}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return art, fmt.Errorf("creating build cache %s: %w", dir, err)
	}
	unlock, err := LockDir(dir)
	if err != nil {
		return art, err
	}
	defer unlock()

	// The same source built another way (a recipe change: flags, a
	// go.mod override) is another build: the command is part of the key.
	if cached, ok := readRecord(dir); ok && cached.Sum == r.Sum && cached.BuildCommand == e.command && allExist(dir, e.outputs) {
		cached.Cached = true
		cached.Requested, cached.Selected = r.Requested, r.Selected
		cached.Dir = r.Dir
		cached.Patches, cached.Source, cached.Commit = r.Patches, r.Source, r.Commit
		return cached, nil
	}
	if e.requires != nil {
		if err := e.requires(); err != nil {
			return art, fmt.Errorf("cannot build %s %s: %w", e.component, r.Version, err)
		}
	}
	start := time.Now()
	if err := e.build(dir); err != nil {
		return art, err
	}
	art.BuildSeconds = time.Since(start).Seconds()
	art.BuiltAt = time.Now().UTC()
	return art, writeRecord(dir, art)
}

func allExist(dir string, names []string) bool {
	for _, n := range names {
		if !fileExists(filepath.Join(dir, n)) {
			return false
		}
	}
	return true
}

func (rc Recipe) args(r Resolved) []string {
	pkg := rc.Component.Module
	if rc.Package != "" {
		pkg += "/" + rc.Package
	}
	args := []string{"install"}
	if len(rc.Tags) > 0 {
		args = append(args, "-tags", strings.Join(rc.Tags, ","))
	}
	if rc.LDFlags != nil {
		args = append(args, "-ldflags", rc.LDFlags(r))
	}
	return append(args, pkg+"@"+r.Version)
}

func (rc Recipe) command(r Resolved) string {
	return "GOTOOLCHAIN=local CGO_ENABLED=1 GOBIN=$PWD go " + textutil.ShellQuote(rc.args(r)...)
}

const recordName = "build.json"

func readRecord(dir string) (Artifact, bool) {
	data, err := os.ReadFile(filepath.Join(dir, recordName))
	if err != nil {
		return Artifact{}, false
	}
	var a Artifact
	return a, json.Unmarshal(data, &a) == nil
}

func writeRecord(dir string, a Artifact) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, recordName), data, 0o644)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// LockDir serialises builds of one cache entry between concurrent runs;
// call the returned function to unlock.
func LockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking build cache: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking build cache %s: %w", dir, err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// requireLibseccompHeaders checks for seccomp.h, which runc's seccomp build
// tag (and so the rc93 pipe hang, containerd#5261) needs.
func requireLibseccompHeaders() error {
	for _, p := range []string{"/usr/include/seccomp.h", "/usr/local/include/seccomp.h",
		"/usr/include/" + runtime.GOARCH + "-linux-gnu/seccomp.h"} {
		if fileExists(p) {
			return nil
		}
	}
	if exec.Command("pkg-config", "--exists", "libseccomp").Run() == nil {
		return nil
	}
	return errors.New("libseccomp headers (seccomp.h) are missing: install the Debian package libseccomp-dev " +
		"(apt-get install libseccomp-dev, or run `make deps`); on Fedora/RHEL the package is libseccomp-devel")
}

// Builder builds one component at a resolved version into the cache.
// Recipe (a single `go install`) and TreeRecipe (several binaries from one
// module tree) are Builders.
type Builder interface {
	// Target is the component built.
	Target() Component
	Build(ctx context.Context, r Resolved, cacheRoot string) (Artifact, error)
}

// Target is the component the recipe builds.
func (rc Recipe) Target() Component { return rc.Component }

// Target is the component the recipe builds.
func (tr TreeRecipe) Target() Component { return tr.Component }
