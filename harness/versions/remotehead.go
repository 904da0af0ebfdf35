package versions

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// RemoteHead is the commit a ref names in a git remote now, without
// fetching it: a local repository (a checkout or a bare one) answers
// rev-parse, so a commit hash works as a ref; a URL answers ls-remote,
// which knows branches and tags. A listing of the nightly shows it beside
// git:<remote>@<ref>; the run resolves the ref again (ResolveGit).
func RemoteHead(ctx context.Context, remote, ref string) (string, error) {
	if fi, err := os.Stat(remote); err == nil && fi.IsDir() {
		commit, err := gitIn(ctx, remote, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
		if err != nil || commit == "" {
			return "", fmt.Errorf("%s names no commit in %s", ref, remote)
		}
		return commit, nil
	}
	out, err := gitIn(ctx, ModuleFreeDir, "ls-remote", "--", remote, ref)
	if err != nil {
		return "", fmt.Errorf("asking %s for %s: %w", remote, ref, err)
	}
	commit, _, _ := strings.Cut(out, "\t")
	if commit == "" {
		return "", fmt.Errorf("%s names no branch or tag in %s", ref, remote)
	}
	return commit, nil
}
