package versions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	modsemver "golang.org/x/mod/semver"

	"github.com/Masterminds/semver/v3"
)

// Resolved is an exact version of a component, with the hash of its source.
type Resolved struct {
	Component string `json:"component"`
	Module    string `json:"module"`
	// Requested is what the user typed.
	Requested string `json:"requested"`
	// Selected says how a selector (latest, latest-1.4) resolved, and
	// from which listing on which day ("" for a version given as such).
	Selected string `json:"selected,omitempty"`
	// Version is the module version ("v1.0.0-rc93").
	Version string `json:"version"`
	// Sum is the go.sum hash (h1:...) of the module zip.
	Sum string `json:"sum"`
	// Commit is the upstream commit the release's tag points to, from the
	// pin file ("" for a version that is not pinned: the proxy's zip does
	// not carry it).
	Commit string `json:"commit,omitempty"`
	// Dir is the unpacked module source in the module cache (or Source.Dir).
	Dir string `json:"-"`
	// Patches are applied to the source tree before the build, in order.
	Patches []Patch `json:"patches,omitempty"`
	// Source is set when a local tree is built instead of the proxy's release.
	Source *Source `json:"source,omitempty"`
}

// CommitStamp is what a build stamps as its commit (runc --version,
// containerd --version), as the projects' own Makefiles do from git: the
// release's commit when the pin file knows it, a local tree's HEAD, else
// module-<version>; "+patched" when patches changed the source.
func (r Resolved) CommitStamp() string {
	stamp := "module-" + r.Version
	switch {
	case r.Source != nil && r.Source.Commit != "":
		stamp = r.Source.Commit
	case r.Commit != "":
		stamp = r.Commit
	}
	if len(r.Patches) > 0 {
		stamp += "+patched"
	}
	return stamp
}

// Modified says whether the build differs from the release as published.
func (r Resolved) Modified() bool { return len(r.Patches) > 0 || r.Source != nil }

// RevertedFixes lists the upstream fixes the patches take out.
func (r Resolved) RevertedFixes() []string {
	var out []string
	for _, p := range r.Patches {
		if p.RevertsFix != "" {
			out = append(out, p.RevertsFix)
		}
	}
	return out
}

// CheckPatches dry-runs every patch on the unmodified tree (the module
// cache is read-only; a dry run writes nothing), so a patch that does not
// fit is a usage error before anything is built or changed.
func (r Resolved) CheckPatches(ctx context.Context) error {
	// A patch after the first may build on it: those are checked when the
	// build applies them in order, to a copy.
	if len(r.Patches) != 1 {
		return nil
	}
	for _, p := range r.Patches {
		cmd := exec.CommandContext(ctx, "patch", "-p1", "--forward", "--batch", "--dry-run", "-d", r.Dir)
		cmd.Stdin = strings.NewReader(p.Diff)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("patch %s does not apply to %s %s: %v\n%s", p.Path, r.Component, r.Version, err, out)
		}
	}
	return nil
}

// SemVer is the version without the leading "v", as semver constraints want it.
func (r Resolved) SemVer() string { return strings.TrimPrefix(r.Version, "v") }

// UnknownVersionError says that a version is neither an alias nor served.
type UnknownVersionError struct {
	Component Component
	Requested string
	Reason    string
}

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("unknown %s version %q: %s\nknown %s versions:\n%sany other version the Go module proxy serves for %s may be given in full (e.g. 1.1.12),\nor a selector: latest (the newest release), latest-X.Y (the newest patch of X.Y), git:<remote>@<ref> (a branch, tag or commit)",
		e.Component.Name, e.Requested, e.Reason, e.Component.Name, e.Component.Known(), e.Component.Module)
}

// Normalize maps an alias or a version string to a module version without
// touching the network. It fails for strings that cannot be a version; a
// selector (latest, latest-X.Y, maintained) is returned as written.
func (c Component) Normalize(requested string) (string, error) {
	s := strings.TrimSpace(requested)
	if s == "" {
		return "", &UnknownVersionError{Component: c, Requested: requested, Reason: "no version given"}
	}
	if p, ok := c.lookup(s); ok {
		return p.Version, nil
	}
	// A selector means a version only once the proxy is asked (Resolve),
	// a git ref once the repository is fetched.
	if IsSelector(s) {
		return s, nil
	}
	if _, ok, err := ParseGit(s); ok {
		if err != nil {
			return "", &UnknownVersionError{Component: c, Requested: requested, Reason: err.Error()}
		}
		return strings.TrimSpace(s), nil
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return "", &UnknownVersionError{Component: c, Requested: requested, Reason: "not a known alias and not a semantic version"}
	}
	// The proxy serves module versions, which carry no build metadata
	// (+incompatible marks majors without go.mod, which these modules
	// do not have): the whole version is what gets built.
	if v.Metadata() != "" {
		return "", &UnknownVersionError{Component: c, Requested: requested, Reason: "build metadata (+" + v.Metadata() + ") is not part of a Go module version; leave it out"}
	}
	return "v" + v.String(), nil
}

// Resolve normalizes the requested version and asks the Go module proxy
// for it, which also downloads the source and yields its hash.
func (c Component) Resolve(ctx context.Context, requested string) (Resolved, error) {
	if spec, ok, err := ParseGit(requested); ok {
		if err != nil {
			return Resolved{}, &UnknownVersionError{Component: c, Requested: requested, Reason: err.Error()}
		}
		cache, err := CacheDir()
		if err != nil {
			return Resolved{}, err
		}
		return c.ResolveGit(ctx, spec, cache)
	}
	if sel, ok := ParseSelector(requested); ok {
		version, how, err := c.Select(ctx, sel, time.Now())
		if err != nil {
			return Resolved{}, err
		}
		r, err := c.Resolve(ctx, version)
		r.Requested, r.Selected = requested, how
		return r, err
	}
	version, err := c.Normalize(requested)
	if err != nil {
		return Resolved{}, err
	}
	var stdout, stderr bytes.Buffer
	module := c.ModuleFor(version)
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Env = goEnv()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct {
		Version, Sum, Dir, Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info.Error != "" || runErr != nil {
		reason := strings.TrimSpace(info.Error + " " + stderr.String())
		if reason == "" && runErr != nil {
			reason = runErr.Error()
		}
		return Resolved{}, &UnknownVersionError{Component: c, Requested: requested,
			Reason: "the Go module proxy does not serve " + module + "@" + version + ": " + reason}
	}
	r := Resolved{Component: c.Name, Module: module, Requested: requested, Version: info.Version, Sum: info.Sum, Dir: info.Dir}
	if p, ok := c.lookup(info.Version); ok {
		r.Commit = p.Commit
	}
	return r, nil
}

// Served lists the versions of the component's module the Go module proxy
// lists, oldest first (a listed version may still refuse to download).
// Major versions from 2 on are other modules (Module/v2, /v3, ...): they
// are listed until one is not served.
func (c Component) Served(ctx context.Context) ([]string, error) {
	all, err := c.listModule(ctx, c.Module)
	if err != nil {
		return nil, err
	}
	for major := 2; ; major++ {
		more, err := c.listModule(ctx, fmt.Sprintf("%s/v%d", c.Module, major))
		if err != nil || len(more) == 0 {
			break
		}
		all = append(all, more...)
	}
	sort.Slice(all, func(i, j int) bool { return modsemver.Compare(all[i], all[j]) < 0 })
	return all, nil
}

func (c Component) listModule(ctx context.Context, module string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-versions", "-json", module)
	cmd.Env = goEnv()
	cmd.Dir = ModuleFreeDir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the versions of %s the module proxy serves: %w", module, err)
	}
	var info struct{ Versions []string }
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("go list -m -versions %s: %w", module, err)
	}
	return info.Versions, nil
}
