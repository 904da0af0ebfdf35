package debsrc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/vm"
)

// BuildRoot is a Debian tree builds run in: debootstrap's buildd variant
// with extra packages, and for a Deb build the source package's build
// dependencies (under the build profiles).
type BuildRoot struct {
	Suite    string   `json:"suite"`
	Mirror   string   `json:"mirror"`
	Packages []string `json:"packages"`
	// BuildDepsOf is "package=version" whose build dependencies are installed.
	BuildDepsOf string `json:"build_deps_of,omitempty"`
	Profiles    string `json:"profiles,omitempty"`
	// GCC is the compiler the build used (gcc --version, first line).
	GCC string `json:"gcc,omitempty"`
}

func buildRootFor(req Request, mirror string) BuildRoot {
	root := BuildRoot{Suite: vm.Suite, Mirror: mirror, Packages: kernelBuildPackages}
	if req.Recipe == Deb {
		root.Packages = []string{"fakeroot", "debhelper", "dpkg-dev", "quilt"}
		root.BuildDepsOf, root.Profiles = req.Package+"="+req.Version, Profiles
	}
	return root
}

// Key identifies the build root's contents.
func (b BuildRoot) Key() string {
	return vm.HashKey(append([]string{b.Suite, b.Mirror, "buildd", b.BuildDepsOf, b.Profiles}, b.Packages...)...)
}

// Ensure returns the build root's tree, making it when it is not cached
// (debootstrap ~2 min, build dependencies a few more).
func (b BuildRoot) Ensure(ctx context.Context, cacheRoot string, log func(string, ...any)) (string, error) {
	dir := filepath.Join(cacheRoot, "debsrc", "buildroots", b.Key())
	tree := filepath.Join(dir, "tree")
	_, err := vm.CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		t := filepath.Join(tmp, "tree")
		log("making a Debian %s build root (debootstrap --variant=buildd + %s%s, cached in %s)", b.Suite, strings.Join(b.Packages, ","),
			map[bool]string{true: " + build-dep " + b.BuildDepsOf, false: ""}[b.BuildDepsOf != ""], dir)
		args := []string{"--variant=buildd", "--include=" + strings.Join(b.Packages, ","), b.Suite, t}
		if b.Mirror != "" {
			args = append(args, b.Mirror)
		}
		if err := vm.Run(ctx, "", nil, "debootstrap", args...); err != nil {
			return fmt.Errorf("debootstrap of the build root: %w", err)
		}
		if b.BuildDepsOf == "" {
			return nil
		}
		if err := os.WriteFile(filepath.Join(t, "etc/apt/sources.list"), []byte(b.sources()), 0o644); err != nil {
			return err
		}
		script := "apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends build-dep -P " +
			strings.ReplaceAll(b.Profiles, " ", ",") + " " + b.BuildDepsOf
		return inBuildRoot(ctx, t, "", nil, script, nil)
	})
	return tree, err
}

// sources is the build root's sources.list: binary and source packages of
// the suite and its updates, for apt-get build-dep.
func (b BuildRoot) sources() string {
	return fmt.Sprintf("deb %[1]s %[2]s main\ndeb-src %[1]s %[2]s main\ndeb %[1]s %[2]s-updates main\ndeb-src %[1]s %[2]s-updates main\n",
		orDefaultMirror(b.Mirror), b.Suite)
}

// describe fills in the toolchain the build root has.
func (b BuildRoot) describe(ctx context.Context, tree string) BuildRoot {
	out, err := exec.CommandContext(ctx, "chroot", tree, "gcc", "--version").Output()
	if err == nil {
		b.GCC, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	return b
}

// inBuildRoot runs a shell script in the build root tree with work (if
// set) bound on /build, in a private mount and PID namespace: the mounts
// die with the namespace and --kill-child takes every build process down
// with relapse, so an interrupted build leaves nothing on the host.
func inBuildRoot(ctx context.Context, tree, work string, env []string, script string, logFile *os.File) error {
	setup := `set -e; root=$1; work=$2; shift 2
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
if [ -n "$work" ]; then mkdir -p "$root/build"; mount --bind "$work" "$root/build"; fi
exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"`
	args := []string{"--mount", "--pid", "--fork", "--kill-child=SIGKILL", "--propagation", "private",
		"sh", "-c", setup, "relapse-buildroot", tree, work}
	args = append(args, env...)
	args = append(args, "/bin/sh", "-c", script)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	if logFile != nil {
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build in %s: %w (log %s)", tree, err, logFile.Name())
		}
		return nil
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("in the build root %s: %s: %w\n%s", tree, script, err, textutil.LastLines(string(out), 30))
	}
	return nil
}

// requireHostTools checks what builds need of the host itself.
func requireHostTools() error {
	var missing []string
	for tool, pkg := range map[string]string{"debootstrap": "debootstrap", "unshare": "util-linux", "apt-get": "apt", "chroot": "coreutils"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" (Debian package "+pkg+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("building from Debian source needs %s; run `make deps-vm`", strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("building from Debian source needs root (debootstrap, chroot and namespaces); run with sudo")
	}
	return nil
}

// lockFile takes an exclusive lock, waiting for it while ctx lives.
func lockFile(ctx context.Context, path string, log func(string, ...any)) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	// Poll rather than block, so a cancelled run stops waiting at once.
	for waited := false; ; waited = true {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !waited {
			log("waiting for another Debian source build to finish (lock %s)", path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another Debian source build (lock %s): %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
