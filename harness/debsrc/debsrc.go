package debsrc

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// Recipe says what a build makes of a source package.
type Recipe string

const (
	// Kernel makes a bzImage with a Kconfig fragment on x86_64_defconfig.
	Kernel Recipe = "kernel"
	// Deb makes the package's binary .debs with the patches in its series.
	Deb Recipe = "deb"
)

//go:embed recipes/kernel.sh
var kernelScript string

//go:embed recipes/deb.sh
var debScript string

// Profiles are the Debian build profiles of a Deb build: no tests, docs or
// installer packages, which cuts the build dependencies and the time.
const Profiles = "nocheck nodoc noudeb noinsttest"

// kernelBuildPackages is what a kernel build needs beyond build-essential.
var kernelBuildPackages = []string{"flex", "bison", "libelf-dev", "bc", "libssl-dev", "cpio", "kmod", "rsync", "python3", "fakeroot", "debhelper", "dpkg-dev", "quilt"}

// Request is one build: a Debian source package at an exact version, with
// patches applied in order.
type Request struct {
	Package string
	Version string
	Recipe  Recipe
	Patches []versions.Patch
	// ConfigFragment is the Kconfig fragment of a Kernel build.
	ConfigFragment []byte
}

var (
	packagePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	versionPattern = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)
)

// Check validates a request without touching the host or the network.
func (r Request) Check() error {
	if !packagePattern.MatchString(r.Package) {
		return fmt.Errorf("source package %q is not a Debian package name (lower case letters, digits, + - .)", r.Package)
	}
	if !versionPattern.MatchString(r.Version) {
		return fmt.Errorf("version %q of %s is not a Debian version (e.g. 252.39-1~deb12u2); `apt-cache showsrc %s` lists what the mirror has", r.Version, r.Package, r.Package)
	}
	switch r.Recipe {
	case Kernel:
		if len(r.ConfigFragment) == 0 {
			return fmt.Errorf("a kernel build of %s needs a Kconfig fragment", r.Package)
		}
	case Deb:
	default:
		return fmt.Errorf("unknown recipe %q (want %q or %q)", r.Recipe, Kernel, Deb)
	}
	return nil
}

// LocalVersion is the version the built .debs carry: the Debian version
// with "+relapse.<patch key>" when patched, so an image shows which build it
// runs; the version itself when unpatched.
func (r Request) LocalVersion() string {
	if len(r.Patches) == 0 {
		return r.Version
	}
	return r.Version + "+relapse." + versions.PatchKey(r.Patches)
}

// String names the build in logs and reports: "systemd 252.39-1~deb12u2
// (Debian source) with systemd#11818 reverted".
func (r Request) String() string {
	s := fmt.Sprintf("%s %s (Debian source)", r.Package, r.Version)
	var reverted, other []string
	for _, p := range r.Patches {
		if p.RevertsFix != "" {
			reverted = append(reverted, p.RevertsFix)
		} else {
			other = append(other, p.Name)
		}
	}
	if len(reverted) > 0 {
		s += " with " + strings.Join(reverted, " and ") + " reverted"
	}
	if len(other) > 0 {
		s += " patched with " + strings.Join(other, ", ")
	}
	return s
}

// Result is a finished build.
type Result struct {
	Package      string           `json:"package"`
	Version      string           `json:"version"`
	LocalVersion string           `json:"local_version"`
	Recipe       Recipe           `json:"recipe"`
	Name         string           `json:"name"`
	Patches      []versions.Patch `json:"patches"`
	// Sources are the downloaded .dsc and tarballs with their sha256.
	Sources map[string]string `json:"sources"`
	// ConfigFragmentSHA256 identifies a kernel build's fragment.
	ConfigFragmentSHA256 string `json:"config_fragment_sha256,omitempty"`
	// BuildRoot says where it was built: suite, mirror, key, gcc.
	BuildRoot BuildRoot `json:"build_root"`
	Key       string    `json:"key"`
	// Files are the outputs, relative to Dir (bzImage, config, *.deb).
	Files []string `json:"files"`
	// KernelRelease is uname -r of a kernel build.
	KernelRelease string `json:"kernel_release,omitempty"`
	// BuildSeconds is the recipe alone; PrepareSeconds the download and
	// build root before it (waiting for another build counts in neither).
	BuildSeconds   float64 `json:"build_seconds"`
	PrepareSeconds float64 `json:"prepare_seconds"`
	BuiltAt        string  `json:"built_at"`
	// Script can be run by hand to make the same build without relapse.
	Script string `json:"-"`
	Dir    string `json:"-"`
	Cached bool   `json:"-"`
}

// Path is an output file's full path.
func (r Result) Path(file string) string { return filepath.Join(r.Dir, file) }

// Build makes the request's outputs, from the cache when a finished build
// with the same inputs is there. log reports the long steps.
func Build(ctx context.Context, cacheRoot string, req Request, log func(string, ...any)) (Result, error) {
	if err := req.Check(); err != nil {
		return Result{}, err
	}
	if err := requireHostTools(); err != nil {
		return Result{}, err
	}
	mirror := vm.AptMirror()
	script := debScript
	var fragmentSum string
	if req.Recipe == Kernel {
		script = kernelScript
		sum := sha256.Sum256(req.ConfigFragment)
		fragmentSum = hex.EncodeToString(sum[:])
	}
	root := buildRootFor(req, mirror)
	patchSums := make([]string, 0, len(req.Patches))
	for _, p := range req.Patches {
		patchSums = append(patchSums, p.SHA256)
	}
	key := vm.HashKey(append([]string{req.Package, req.Version, string(req.Recipe), script, fragmentSum, root.Key()}, patchSums...)...)
	dir := filepath.Join(cacheRoot, "debsrc", "builds", req.Package+"_"+sanitize(req.Version)+"-"+key)
	res := Result{Package: req.Package, Version: req.Version, LocalVersion: req.LocalVersion(), Recipe: req.Recipe,
		Name: req.String(), Patches: req.Patches, ConfigFragmentSHA256: fragmentSum, Key: key, Dir: dir}
	res.Script = reproducer(req, mirror, root, script)
	built, err := vm.CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		start := time.Now()
		sources, err := fetchSource(ctx, cacheRoot, mirror, req.Package, req.Version, log)
		if err != nil {
			return err
		}
		tree, err := root.Ensure(ctx, cacheRoot, log)
		if err != nil {
			return err
		}
		// One heavy build at a time: two on a 2-core machine only make
		// both slow and the machine unusable. Downloads and the build
		// root (mostly network and dpkg) may overlap another build.
		res.PrepareSeconds = time.Since(start).Seconds()
		unlock, err := lockFile(ctx, filepath.Join(cacheRoot, "debsrc", "build.lock"), log)
		if err != nil {
			return err
		}
		recipeStart := time.Now()
		out, err := runRecipe(ctx, tree, tmp, req, sources, script, log)
		res.BuildSeconds = time.Since(recipeStart).Seconds()
		unlock()
		if err != nil {
			return err
		}
		res.Sources = sources.Sums
		res.BuildRoot = root.describe(ctx, tree)
		res.Files = out.files
		res.KernelRelease = out.release
		res.BuiltAt = time.Now().UTC().Format(time.RFC3339)
		if err := os.WriteFile(filepath.Join(tmp, "build.sh"), []byte(res.Script), 0o755); err != nil {
			return err
		}
		return vm.WriteJSON(filepath.Join(tmp, "result.json"), res)
	})
	if err != nil {
		return Result{}, fmt.Errorf("building %s: %w", req, err)
	}
	saved := Result{}
	if err := vm.ReadJSON(filepath.Join(dir, "result.json"), &saved); err != nil {
		return Result{}, err
	}
	saved.Script, saved.Dir, saved.Cached = res.Script, dir, !built
	saved.Patches = req.Patches
	return saved, nil
}

// jobs is the parallelism of a build: every core of this machine.
func jobs() string { return strconv.Itoa(runtime.NumCPU()) }

// sanitize makes a Debian version usable in a directory name.
func sanitize(version string) string {
	return strings.NewReplacer(":", "_", "~", "_").Replace(version)
}
