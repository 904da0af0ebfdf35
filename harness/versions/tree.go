package versions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/textutil"
)

// Containerd is the container engine (daemon, runc v2 shim and ctr).
var Containerd = mustComponent("containerd", "github.com/containerd/containerd",
	// containerd's RELEASES.md states an end of life per line instead of
	// a count (LTS lines live longer). Lines of the /v2 module are listed
	// for when relapse builds them; the v1 module lists only 1.x.
	Maintenance{Source: "containerd RELEASES.md, end of life per release line (read 2026-12-06)", EndOfLife: map[string]time.Time{
		"v1.7": day(2026, 9, 30), // committers until 2026-03-10, extended support to September 2026
		"v2.0": day(2027, 3, 31), // extended support to March 2027
		"v2.2": day(2026, 11, 6),
		"v2.3": day(2028, 4, 30), // LTS
		"v2.4": day(2027, 4, 26), // tentative
	}})

// TreeRecipe builds several binaries of a component with `go build` inside
// a writable copy of its module source, for modules `go install pkg@version`
// refuses (a go.mod with replace directives, as containerd's has).
//
// The copy drops vendor/: the module zip keeps only vendor/modules.txt, and
// with it the go command would build from the (absent) vendored packages.
// The build runs with -mod=readonly, so it uses exactly the dependency
// versions the release's go.mod and go.sum name and fails rather than
// resolve anything anew. A module zip also leaves out nested modules; a
// replace directive whose target is such a directory inside the module
// (containerd 1.6.0 and 1.6.1: `github.com/containerd/containerd =>
// ./.empty-mod/`) gets an empty module there, which is what upstream's
// directory holds. -trimpath keeps the temporary path out of the binaries.
//
// All binaries go into one cache entry, keyed like Recipe's
// (<version>_<go version>_<tags>). The Artifact's Path is that directory,
// not a binary: binary NAME is filepath.Join(art.Path, NAME). Put art.Path
// first on containerd's PATH: containerd takes containerd-shim-runc-v2 from
// PATH and looks next to its own executable only when PATH has none (a
// distribution's /usr/bin shim would silently win).
type TreeRecipe struct {
	Component Component
	// Binaries maps each binary name to its main package path inside the
	// module ("ctr": "cmd/ctr").
	Binaries map[string]string
	Tags     []string
	// LDFlags returns the -ldflags for a version (version stamping).
	LDFlags func(r Resolved) string
	// PathTo, when set, makes the Artifact's Path that binary instead of
	// the entry's directory (runc's tree build).
	PathTo string
	// ModFlag is how the build treats go.mod ("-mod=readonly" when empty).
	ModFlag string
	// Requires checks build prerequisites and says how to get what is missing.
	Requires func() error
}

// ContainerdRecipe builds containerd, containerd-shim-runc-v2 and ctr from
// one source tree, so the whole engine is one version. no_btrfs: the btrfs
// snapshotter needs the libbtrfs headers and no scenario uses it. The
// version is stamped as upstream's release binaries have it
// (`containerd --version` prints "... v1.6.2 module-v1.6.2").
var ContainerdRecipe = TreeRecipe{
	Component: Containerd,
	Binaries: map[string]string{
		"containerd":              "cmd/containerd",
		"containerd-shim-runc-v2": "cmd/containerd-shim-runc-v2",
		"ctr":                     "cmd/ctr",
	},
	Tags: []string{"no_btrfs"},
	LDFlags: func(r Resolved) string {
		pkg := Containerd.moduleOf(r) + "/version"
		return fmt.Sprintf("-X %s.Version=%s -X %s.Revision=%s", pkg, r.Version, pkg, r.CommitStamp())
	},
}

// Build returns the directory holding the binaries for r (or the binary
// PathTo names), from the cache when they are all there. r must come from
// Component.Resolve or ResolveSource: the build copies the source from
// r.Dir, then applies r.Patches in order.
func (tr TreeRecipe) Build(ctx context.Context, r Resolved, cacheRoot string) (Artifact, error) {
	if r.Dir == "" {
		return Artifact{Resolved: r}, fmt.Errorf("building %s %s: no module source (resolve the version first)", tr.Component.Name, r.Version)
	}
	empty, err := missingReplaceDirs(r.Dir)
	if err != nil {
		return Artifact{Resolved: r}, err
	}
	keepVendor := r.Source != nil && completeVendor(r.Dir)
	command := tr.command(r, empty, keepVendor)
	names := tr.names()
	return cacheEntry{component: tr.Component.Name, tags: tr.Tags, path: tr.PathTo, outputs: names, command: command, requires: tr.Requires,
		build: func(dir string) error {
			tmp, err := os.MkdirTemp(dir, "tree-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			src, out := filepath.Join(tmp, "src"), filepath.Join(tmp, "out")
			if err := copyTree(r.Dir, src, keepVendor); err != nil {
				return fmt.Errorf("copying %s %s source: %w", tr.Component.Name, r.Version, err)
			}
			for _, d := range empty {
				if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(src, d, "go.mod"), []byte(emptyModule(d)), 0o644); err != nil {
					return err
				}
			}
			if err := applyPatches(ctx, src, r.Patches); err != nil {
				return err
			}
			for _, name := range names {
				cmd := exec.CommandContext(ctx, "go", tr.args(r, name, filepath.Join(out, name), keepVendor)...)
				cmd.Dir = src
				cmd.Env = goEnv()
				if output, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("building %s %s (%s) failed: %w\n%s\nto build by hand:\n%s", tr.Component.Name, r.Version, name, err, output, command)
				}
			}
			for _, name := range names {
				if err := os.Rename(filepath.Join(out, name), filepath.Join(dir, name)); err != nil {
					return fmt.Errorf("moving %s into the cache: %w", name, err)
				}
			}
			return nil
		}}.get(ctx, r, cacheRoot)
}

// completeVendor reports whether dir's vendor/ holds the vendored code
// (a git checkout of runc or containerd) and not only modules.txt (a
// module zip).
func completeVendor(dir string) bool {
	entries, err := os.ReadDir(filepath.Join(dir, "vendor"))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() {
			return true
		}
	}
	return false
}

// names lists the binaries in a fixed order.
func (tr TreeRecipe) names() []string {
	names := make([]string, 0, len(tr.Binaries))
	for n := range tr.Binaries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// args are the `go build` arguments for one binary, run in the source copy.
func (tr TreeRecipe) args(r Resolved, name, out string, vendored bool) []string {
	mod := tr.ModFlag
	switch {
	case vendored:
		mod = "-mod=vendor"
	case mod == "":
		mod = "-mod=readonly"
	}
	args := []string{"build", mod, "-buildvcs=false", "-trimpath"}
	if len(tr.Tags) > 0 {
		args = append(args, "-tags", strings.Join(tr.Tags, ","))
	}
	if tr.LDFlags != nil {
		args = append(args, "-ldflags", tr.LDFlags(r))
	}
	return append(args, "-o", out, "./"+strings.TrimPrefix(tr.Binaries[name], "./"))
}

// command is a shell snippet that builds the binaries into the current
// directory, from the release (or the local tree) with the patches in the
// current directory applied. It runs in a subshell, so `set -e` and cd
// stay inside.
func (tr TreeRecipe) command(r Resolved, emptyDirs []string, keepVendor bool) string {
	mod := tr.Component.moduleOf(r) + "@" + r.Version
	lines := []string{
		"(set -e; out=$PWD; tmp=$(mktemp -d); cd \"$tmp\"",
		" export GOTOOLCHAIN=local CGO_ENABLED=1",
	}
	prep := "; chmod -R u+w src; rm -rf src/vendor; cd src"
	if keepVendor {
		prep = "; chmod -R u+w src; cd src"
	}
	switch {
	case r.Source != nil && r.Source.Commit != "":
		lines = append(lines, fmt.Sprintf(" git clone -q %s src; git -C src checkout -q %s%s  # %s%s",
			textutil.ShellQuote(r.Source.Dir), r.Source.Commit, prep, r.Source.Describe, dirtyNote(r.Source)))
	case r.Source != nil:
		lines = append(lines, " cp -R "+textutil.ShellQuote(r.Source.Dir)+" src"+prep+"  # tree "+r.Source.Key)
	default:
		lines = append(lines, " go mod download "+mod,
			" cp -R \"$(go list -m -f '{{.Dir}}' "+mod+")\" src"+prep)
	}
	for _, d := range emptyDirs {
		lines = append(lines, fmt.Sprintf(" mkdir -p %s; echo '%s' > %s/go.mod", d, strings.TrimSpace(emptyModule(d)), d))
	}
	lines = append(lines, patchCommands(r.Patches)...)
	for _, name := range tr.names() {
		lines = append(lines, " go "+textutil.ShellQuoteVars(tr.args(r, name, "$out/"+name, keepVendor)...))
	}
	lines = append(lines, " cd \"$out\"; rm -rf \"$tmp\")")
	return strings.Join(lines, "\n")
}

// emptyModule is the go.mod of a stand-in for a nested module the module
// zip left out (containerd's .empty-mod/go.mod says "module empty-mod").
func emptyModule(dir string) string {
	return "module " + strings.TrimLeft(filepath.Base(dir), ".") + "\n"
}

// missingReplaceDirs lists the replace targets inside the module at dir
// ("./.empty-mod/") that its source lacks.
func missingReplaceDirs(dir string) ([]string, error) {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("reading the module's go.mod: %w", err)
	}
	targets, err := localReplaceTargets(string(gomod))
	if err != nil {
		return nil, fmt.Errorf("reading the module's go.mod: %w", err)
	}
	var missing []string
	for _, t := range targets {
		if _, err := os.Stat(filepath.Join(dir, t)); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, t)
		}
	}
	return missing, nil
}

// localReplaceTargets returns, cleaned and in file order, the targets of
// go.mod replace directives that are directories inside the module
// ("./x"). Targets with a version are modules; "../x" lies outside.
func localReplaceTargets(gomod string) ([]string, error) {
	replaces, _, _, err := goModDirectives(gomod)
	if err != nil {
		return nil, err
	}
	var targets []string
	for _, r := range replaces {
		if r.NewVersion != "" || !strings.HasPrefix(r.New, "./") {
			continue
		}
		if t := filepath.Clean(r.New); t != "." && !strings.HasPrefix(t, "..") {
			targets = append(targets, t)
		}
	}
	return targets, nil
}

// dirtyNote says in a build command that the local tree had uncommitted
// changes the command cannot reproduce from git alone.
func dirtyNote(s *Source) string {
	if s.Dirty {
		return "; the tree had uncommitted changes (key " + s.Key + ")"
	}
	return ""
}

// copyModule copies the module source at src (read-only in the module
// cache) to a new writable tree dst, leaving out the top-level vendor/.
func copyModule(src, dst string) error { return copyTree(src, dst, false) }

// copyTree copies a source tree to a new writable dst, leaving out .git
// and, unless keepVendor, the top-level vendor/.
func copyTree(src, dst string, keepVendor bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && (rel == "vendor" && !keepVendor || d.Name() == ".git"):
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(p, target, info.Mode().Perm()|0o200)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			return fmt.Errorf("%s: not a regular file, directory or symlink", p)
		}
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
