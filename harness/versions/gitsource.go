package versions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// GitPrefix starts a version taken from a git repository instead of the
// module proxy: git:<remote>@<ref>, where remote is a URL or a local
// checkout and ref a branch, tag or commit. The proxy serves releases
// only; a nightly that follows main, or a release branch, needs this.
const GitPrefix = "git:"

// GitSpec is a parsed git:<remote>@<ref>.
type GitSpec struct {
	Remote, Ref string
}

func (g GitSpec) String() string { return GitPrefix + g.Remote + "@" + g.Ref }

// ParseGit reads git:<remote>@<ref> (the last "@" splits them, so a
// remote may carry a user@host). ok is false for anything without the
// prefix; a string with it that is not well formed is an error naming
// what is wrong.
func ParseGit(s string) (spec GitSpec, ok bool, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), GitPrefix)
	if !ok {
		return GitSpec{}, false, nil
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return GitSpec{}, true, fmt.Errorf("%q: want git:<remote>@<ref>, e.g. git:/src/runc@main or git:https://github.com/opencontainers/runc@release-1.5", s)
	}
	spec = GitSpec{Remote: rest[:at], Ref: rest[at+1:]}
	for _, part := range []struct{ name, value string }{{"remote", spec.Remote}, {"ref", spec.Ref}} {
		switch {
		case part.value == "":
			return GitSpec{}, true, fmt.Errorf("%q: the %s is empty (want git:<remote>@<ref>)", s, part.name)
		case strings.HasPrefix(part.value, "-"):
			// git would read it as an option.
			return GitSpec{}, true, fmt.Errorf("%q: the %s %q starts with '-'", s, part.name, part.value)
		case strings.IndexFunc(part.value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return GitSpec{}, true, fmt.Errorf("%q: the %s holds a space or control character", s, part.name)
		}
	}
	return spec, true, nil
}

// ResolveGit fetches the remote into a bare mirror in the cache (cloned
// once, fetched on each resolution, so a branch moves with upstream),
// resolves the ref to a commit, checks that commit out into a tree of
// its own (kept: a commit never changes) and resolves the tree as a local
// source. The Resolved says which commit the ref meant and when.
func (c Component) ResolveGit(ctx context.Context, spec GitSpec, cacheRoot string) (Resolved, error) {
	sum := sha256.Sum256([]byte(spec.Remote))
	base := filepath.Join(cacheRoot, "sources", c.Name)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return Resolved{}, fmt.Errorf("making the source cache %s: %w", base, err)
	}
	unlock, err := LockDir(base)
	if err != nil {
		return Resolved{}, err
	}
	defer unlock()
	mirror := filepath.Join(base, "mirror-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(mirror); os.IsNotExist(err) {
		if _, err := gitIn(ctx, base, "clone", "--bare", "--quiet", "--", spec.Remote, mirror); err != nil {
			os.RemoveAll(mirror)
			return Resolved{}, fmt.Errorf("%s %s: cloning %s: %w", c.Name, spec, spec.Remote, err)
		}
	} else if _, err := gitIn(ctx, mirror, "fetch", "--quiet", "--prune", "--tags", "--force", "--", spec.Remote, "+refs/heads/*:refs/heads/*"); err != nil {
		return Resolved{}, fmt.Errorf("%s %s: fetching %s: %w", c.Name, spec, spec.Remote, err)
	}
	commit, err := gitIn(ctx, mirror, "rev-parse", "--verify", "--quiet", spec.Ref+"^{commit}")
	if err != nil || commit == "" {
		return Resolved{}, fmt.Errorf("%s %s: %s names no commit in %s", c.Name, spec, spec.Ref, spec.Remote)
	}
	tree := filepath.Join(base, commit)
	if _, err := os.Stat(tree); os.IsNotExist(err) {
		if _, err := gitIn(ctx, mirror, "worktree", "add", "--quiet", "--detach", "--", tree, commit); err != nil {
			os.RemoveAll(tree)
			return Resolved{}, fmt.Errorf("%s %s: checking out %s: %w", c.Name, spec, commit, err)
		}
	}
	r, err := c.ResolveSource(ctx, tree)
	if err != nil {
		return Resolved{}, err
	}
	r.Requested = spec.String()
	r.Selected = fmt.Sprintf("%s = commit %s (%s), fetched from %s", spec, commit, r.Source.Describe, spec.Remote)
	return r, nil
}
