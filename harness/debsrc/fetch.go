package debsrc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// securityMirror serves bookworm-security; deb.debian.org's own path.
const securityMirror = "http://deb.debian.org/debian-security"

// aptSources is the private apt configuration's sources.list: deb-src for
// the suite, its updates and its security suite, from the host's mirror,
// one suite per line (apt reads a second suite on a line as a component).
func aptSources(mirror string) string {
	mirror = orDefaultMirror(mirror)
	key := "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
	var b strings.Builder
	for _, line := range [][2]string{{mirror, vm.Suite}, {mirror, vm.Suite + "-updates"}, {securityMirror, vm.Suite + "-security"}} {
		fmt.Fprintf(&b, "deb-src %s %s %s main\n", key, line[0], line[1])
	}
	return b.String()
}

// aptOptions point apt-get at the private configuration under dir; the
// host's dpkg status and apt configuration are only read.
func aptOptions(dir string) []string {
	return []string{
		"-o", "Dir::Etc::SourceList=" + filepath.Join(dir, "sources.list"),
		"-o", "Dir::Etc::SourceParts=/dev/null",
		"-o", "Dir::State::Lists=" + filepath.Join(dir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(dir, "cache"),
		"-o", "APT::Sandbox::User=root",
		"-q",
	}
}

// sourceFiles is a downloaded source package.
type sourceFiles struct {
	Dir string
	DSC string
	// Sums maps each file's name to its sha256.
	Sums map[string]string
}

// fetchSource downloads a source package at an exact version (cached): a
// pinned version, because the security suite's index may list a newer one
// the mirror no longer serves.
func fetchSource(ctx context.Context, cacheRoot, mirror, pkg, version string, log func(string, ...any)) (sourceFiles, error) {
	aptDir := filepath.Join(cacheRoot, "debsrc", "apt")
	dir := filepath.Join(cacheRoot, "debsrc", "sources", pkg+"_"+sanitize(version))
	_, err := vm.CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		for _, d := range []string{"lists/partial", "cache/archives/partial"} {
			if err := os.MkdirAll(filepath.Join(aptDir, d), 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(aptDir, "sources.list"), []byte(aptSources(mirror)), 0o644); err != nil {
			return err
		}
		log("downloading the Debian source package %s %s (private apt configuration in %s)", pkg, version, aptDir)
		if err := vm.Run(ctx, "", nil, "apt-get", append(aptOptions(aptDir), "update")...); err != nil {
			return fmt.Errorf("apt-get update for Debian sources: %w", err)
		}
		if err := vm.Run(ctx, tmp, nil, "apt-get", append(aptOptions(aptDir), "source", "--download-only", pkg+"="+version)...); err != nil {
			return fmt.Errorf("source package %s=%s is not on the Debian mirror (%s): %w", pkg, version, mirror, err)
		}
		return nil
	})
	if err != nil {
		return sourceFiles{}, err
	}
	src := sourceFiles{Dir: dir, Sums: map[string]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return src, err
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sum, err := versions.FileSHA256(filepath.Join(dir, e.Name()))
		if err != nil {
			return src, err
		}
		src.Sums[e.Name()] = sum
		if strings.HasSuffix(e.Name(), ".dsc") {
			src.DSC = e.Name()
		}
	}
	if src.DSC == "" {
		return src, fmt.Errorf("the download of %s %s in %s has no .dsc", pkg, version, dir)
	}
	return src, nil
}
