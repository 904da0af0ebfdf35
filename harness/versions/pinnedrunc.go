package versions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// runcVersionFile is where a containerd tree names the runc its CI installs
// (script/setup/install-runc reads it): the runc that release was tested
// with.
const runcVersionFile = "script/setup/runc-version"

// PinnedRunc is the runc version containerd (a version or selector, as
// Resolve takes it) names in its own tree, with how it was found, for a
// report: `relapse chaos --containerd 1.6.2` without --runc runs the runc
// containerd 1.6.2 was tested with, not one relapse picked.
func PinnedRunc(ctx context.Context, containerd string) (runc, how string, err error) {
	r, err := Containerd.Resolve(ctx, containerd)
	if err != nil {
		return "", "", err
	}
	runc, err = readPinnedRunc(r.Dir)
	if err != nil {
		return "", "", fmt.Errorf("containerd %s: %w; give --runc", r.Version, err)
	}
	return runc, fmt.Sprintf("the runc containerd %s pins (%s: %s)", r.Version, runcVersionFile, runc), nil
}

// readPinnedRunc reads runcVersionFile of the containerd tree dir: one
// runc release, checked as one before anyone builds it.
func readPinnedRunc(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no source tree to read " + runcVersionFile + " from")
	}
	data, err := os.ReadFile(filepath.Join(dir, runcVersionFile))
	if err != nil {
		return "", fmt.Errorf("its tree names no runc: %w", err)
	}
	v := strings.TrimSpace(string(data))
	if strings.ContainsAny(v, " \t\n") || len(v) > 64 {
		return "", fmt.Errorf("%s holds %q, not one runc version", runcVersionFile, v[:min(len(v), 64)])
	}
	if _, err := Runc.Normalize(v); err != nil {
		return "", fmt.Errorf("%s names %q: %w", runcVersionFile, v, err)
	}
	return v, nil
}
