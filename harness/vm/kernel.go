package vm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/versions"
)

// DefaultFlavour is the Debian kernel build used when KERNEL names only an
// ABI: the cloud build probes fewer devices, so it boots faster under
// emulation, and has every driver a qemu node needs.
const DefaultFlavour = "cloud-amd64"

var flavours = []string{"cloud-amd64", "rt-amd64", "amd64"}

// KernelSpec is a requested guest kernel.
type KernelSpec struct {
	// Requested is what the user wrote.
	Requested string `json:"requested"`
	// ABI is the Debian kernel ABI ("6.1.0-50", "6.12.117+deb12").
	ABI     string `json:"abi,omitempty"`
	Flavour string `json:"flavour,omitempty"`
	// Image and Modules are set for a user's own kernel: a bzImage and the
	// lib/modules/<release> directory built with it.
	Image   string `json:"image,omitempty"`
	Modules string `json:"modules,omitempty"`
	// Source is the Debian linux source version of a kernel relapse builds
	// ("source:6.1.176-1"); the provider builds it and fills in Image,
	// BuiltRelease and BuiltConfig.
	Source string `json:"source,omitempty"`
	// BuiltRelease and BuiltConfig describe an Image without modules: every
	// driver a node needs is built in, so it boots without an initramfs.
	BuiltRelease string `json:"built_release,omitempty"`
	BuiltConfig  string `json:"built_config,omitempty"`
}

// SourcePrefix marks a KERNEL value that is built from Debian source.
const SourcePrefix = "source:"

// Monolithic reports whether the kernel has no modules (built from source
// by relapse): it boots without initramfs.
func (k KernelSpec) Monolithic() bool { return k.Image != "" && k.Modules == "" }

// Package is the Debian package of a Debian kernel.
func (k KernelSpec) Package() string { return "linux-image-" + k.ABI + "-" + k.Flavour }

// Release is the kernel release (uname -r) of a Debian kernel.
func (k KernelSpec) Release() string { return k.ABI + "-" + k.Flavour }

// String names the kernel in reports and run ids.
func (k KernelSpec) String() string {
	if k.Source != "" {
		return "linux " + k.Source + " (Debian source)"
	}
	if k.Image != "" {
		return "custom " + filepath.Base(k.Image)
	}
	return k.Release()
}

var debianVersion = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)

// IsDebianVersion says whether v is written as a Debian package version
// ("252.39-1~deb12u2", "6.1.176-1").
func IsDebianVersion(v string) bool { return debianVersion.MatchString(v) }

var abiPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9]+|\+deb[0-9]+)*$`)

// ParseKernel checks a KERNEL value without touching the host or the
// network: a pinned alias, a Debian ABI with an optional flavour, or the
// path of a bzImage (then modules must name its lib/modules/<release>).
func ParseKernel(value, modules string) (KernelSpec, error) {
	spec := KernelSpec{Requested: value}
	if value == "" {
		value = "6.1"
		spec.Requested = value
	}
	if v, ok := strings.CutPrefix(value, SourcePrefix); ok {
		if !debianVersion.MatchString(v) {
			return spec, fmt.Errorf("KERNEL=%s: %q is not a Debian version of the linux source package (e.g. source:6.1.176-1; `apt-cache showsrc linux` lists them)", value, v)
		}
		spec.Source = v
		return spec, nil
	}
	if strings.Contains(value, "/") {
		if st, err := os.Stat(value); err != nil || !st.Mode().IsRegular() {
			return spec, fmt.Errorf("kernel image %q is not a file; KERNEL takes a Debian kernel ABI or the path of a bzImage\n%s", value, KnownKernels())
		}
		if modules == "" {
			return spec, fmt.Errorf("kernel image %s needs its modules: give KERNEL_MODULES=<dir>/lib/modules/<release> (the initramfs loads virtio drivers from it)", value)
		}
		if _, err := os.Stat(filepath.Join(modules, "modules.order")); err != nil {
			return spec, fmt.Errorf("kernel modules %q: no modules.order there; want the lib/modules/<release> directory of the same build", modules)
		}
		spec.Image, spec.Modules = value, modules
		return spec, nil
	}
	pins, err := versions.LoadPins("kernel")
	if err != nil {
		return spec, err
	}
	for _, p := range pins {
		if p.Alias == value {
			value = p.Version
		}
	}
	spec.ABI, spec.Flavour = value, DefaultFlavour
	for _, f := range flavours {
		if abi, ok := strings.CutSuffix(value, "-"+f); ok {
			spec.ABI, spec.Flavour = abi, f
			break
		}
	}
	if !abiPattern.MatchString(spec.ABI) {
		return spec, fmt.Errorf("unknown kernel %q: not a pinned alias, a Debian kernel ABI (6.1.0-50, 6.12.117+deb12) or a bzImage path\n%s", spec.Requested, KnownKernels())
	}
	return spec, nil
}

// KnownKernels lists the pinned kernels and the ABIs apt offers.
func KnownKernels() string {
	var b strings.Builder
	b.WriteString("known kernels:\n")
	if pins, err := versions.LoadPins("kernel"); err == nil {
		for _, p := range pins {
			fmt.Fprintf(&b, "  %-8s %-16s %s\n", p.Alias, p.Version, p.Note)
		}
	}
	if abis := AvailableABIs(); len(abis) > 0 {
		fmt.Fprintf(&b, "Debian kernel ABIs apt offers here: %s\n", strings.Join(abis, " "))
	}
	return b.String()
}

// AvailableABIs lists the bookworm kernel ABIs apt can fetch (from the
// package lists; empty before `apt-get update`). apt-cache takes seconds
// on a busy machine, and a matrix file with several bad kernels would
// ask it once per error: it is asked once per process.
func AvailableABIs() []string { return slices.Clone(availableABIs()) }

var availableABIs = sync.OnceValue(func() []string {
	out, err := exec.Command("apt-cache", "pkgnames", "linux-image-").Output()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		name := strings.TrimPrefix(sc.Text(), "linux-image-")
		if abi, ok := strings.CutSuffix(name, "-"+DefaultFlavour); ok && abiPattern.MatchString(abi) {
			seen[abi] = true
		}
	}
	abis := make([]string, 0, len(seen))
	for a := range seen {
		abis = append(abis, a)
	}
	sort.Strings(abis)
	return abis
})

// Resolve checks that apt can fetch a Debian kernel, still before anything
// changes; the error lists what it offers.
func (k KernelSpec) Resolve(ctx context.Context) error {
	if k.Image != "" || k.Source != "" {
		return nil
	}
	out, err := exec.CommandContext(ctx, "apt-cache", "show", "--no-all-versions", k.Package()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Package: "+k.Package()) {
		return fmt.Errorf("kernel %s: apt has no package %s (run `apt-get update` if the lists are old)\n%s", k.Requested, k.Package(), KnownKernels())
	}
	return nil
}

// Kernel is a guest kernel ready to boot.
type Kernel struct {
	Spec KernelSpec `json:"spec"`
	// Release is uname -r of the guest.
	Release string `json:"release"`
	Image   string `json:"image"`
	Initrd  string `json:"initrd"`
	// ModulesDisk is an ext4 image of lib/modules, mounted read-only in the guest.
	ModulesDisk string `json:"modules_disk"`
	// PackageVersion and DebSHA256 identify a Debian kernel exactly.
	PackageVersion string   `json:"package_version,omitempty"`
	DebSHA256      string   `json:"deb_sha256,omitempty"`
	Config         string   `json:"config,omitempty"`
	InitrdModules  []string `json:"initrd_modules"`
	BuildSeconds   float64  `json:"build_seconds"`
	Cached         bool     `json:"-"`
}

// HasConfig reports whether the kernel was built with a CONFIG_ option set
// (y or m); false when its config is unknown.
func (k Kernel) HasConfig(option string) bool {
	if k.Config == "" {
		return false
	}
	data, err := os.ReadFile(k.Config)
	if err != nil {
		return false
	}
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(option) + `=[ym]$`).Match(data)
}

// FetchKernel unpacks a Debian kernel (apt-get download + dpkg-deb -x, no
// install) or takes a user's own, and makes its initramfs and modules disk.
// Everything is cached per kernel (~15 s the first time).
func FetchKernel(ctx context.Context, cacheRoot string, spec KernelSpec, log func(string, ...any)) (Kernel, error) {
	if err := requireTools(map[string]string{"apt-get": "apt", "dpkg-deb": "dpkg", "depmod": "kmod",
		"mkfs.ext4": "e2fsprogs", "cpio": "cpio", "busybox": "busybox-static"}); err != nil {
		return Kernel{}, err
	}
	id := spec.Release()
	if spec.Image != "" {
		sum, err := versions.FileSHA256(spec.Image)
		if err != nil {
			return Kernel{}, err
		}
		id = "custom-" + sum[:12]
	}
	dir := filepath.Join(cacheRoot, "vm", "kernels", id+"-"+initrdLayout)
	built, err := CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		start := time.Now()
		log("preparing kernel %s (unpack, initramfs, modules disk; cached in %s)", spec, dir)
		k, err := unpackKernel(ctx, tmp, spec)
		if err != nil {
			return err
		}
		if spec.Monolithic() {
			// Nothing to load: the modules disk stays (empty) so that
			// the scenario's disks keep their device names.
			k.ModulesDisk = "modules.ext4"
			k.BuildSeconds = time.Since(start).Seconds()
			if err := Run(ctx, "", nil, "mkfs.ext4", "-q", "-F", "-L", "relapse-mods", "-d", filepath.Join(tmp, "lib/modules"),
				filepath.Join(tmp, k.ModulesDisk), "8M"); err != nil {
				return err
			}
			return WriteJSON(filepath.Join(tmp, "kernel.json"), k)
		}
		if k.InitrdModules, err = buildInitramfs(ctx, filepath.Join(tmp, "lib/modules", k.Release), filepath.Join(tmp, "initrd.img")); err != nil {
			return fmt.Errorf("initramfs for %s: %w", spec, err)
		}
		if err := Run(ctx, "", nil, "mkfs.ext4", "-q", "-F", "-L", "relapse-mods", "-d", filepath.Join(tmp, "lib/modules"),
			filepath.Join(tmp, "modules.ext4"), "1G"); err != nil {
			return err
		}
		k.Initrd, k.ModulesDisk = "initrd.img", "modules.ext4"
		k.BuildSeconds = time.Since(start).Seconds()
		return WriteJSON(filepath.Join(tmp, "kernel.json"), k)
	})
	if err != nil {
		return Kernel{}, fmt.Errorf("preparing kernel %s: %w", spec, err)
	}
	var k Kernel
	if err := ReadJSON(filepath.Join(dir, "kernel.json"), &k); err != nil {
		return Kernel{}, err
	}
	for _, p := range []*string{&k.Image, &k.Initrd, &k.ModulesDisk, &k.Config} {
		if *p != "" {
			*p = filepath.Join(dir, *p)
		}
	}
	k.Cached = !built
	return k, nil
}

// unpackKernel lays the kernel out in dir: boot/vmlinuz-*, lib/modules/<release>.
func unpackKernel(ctx context.Context, dir string, spec KernelSpec) (Kernel, error) {
	k := Kernel{Spec: spec}
	if spec.Monolithic() {
		k.Release, k.Image, k.Config = spec.BuiltRelease, "vmlinuz", "config"
		if err := os.MkdirAll(filepath.Join(dir, "lib/modules", k.Release), 0o755); err != nil {
			return k, err
		}
		if err := Run(ctx, "", nil, "cp", spec.Image, filepath.Join(dir, k.Image)); err != nil {
			return k, err
		}
		return k, Run(ctx, "", nil, "cp", spec.BuiltConfig, filepath.Join(dir, k.Config))
	}
	if spec.Image != "" {
		k.Release = filepath.Base(spec.Modules)
		mods := filepath.Join(dir, "lib/modules")
		if err := os.MkdirAll(mods, 0o755); err != nil {
			return k, err
		}
		if err := Run(ctx, "", nil, "cp", "-a", spec.Modules, filepath.Join(mods, k.Release)); err != nil {
			return k, err
		}
		if err := Run(ctx, "", nil, "cp", spec.Image, filepath.Join(dir, "vmlinuz")); err != nil {
			return k, err
		}
		k.Image = "vmlinuz"
		return k, depmod(ctx, dir, k.Release)
	}
	debs := filepath.Join(dir, "deb")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return k, err
	}
	if err := Run(ctx, debs, nil, "apt-get", "download", "-q", spec.Package()); err != nil {
		return k, fmt.Errorf("downloading %s: %w", spec.Package(), err)
	}
	found, _ := filepath.Glob(filepath.Join(debs, spec.Package()+"_*.deb"))
	if len(found) != 1 {
		return k, fmt.Errorf("apt-get download %s left %d .deb files", spec.Package(), len(found))
	}
	deb := found[0]
	var err error
	if k.DebSHA256, err = versions.FileSHA256(deb); err != nil {
		return k, err
	}
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-f", deb, "Version").Output(); err == nil {
		k.PackageVersion = strings.TrimSpace(string(out))
	}
	if err := Run(ctx, "", nil, "dpkg-deb", "-x", deb, dir); err != nil {
		return k, err
	}
	_ = os.RemoveAll(debs)
	k.Release = spec.Release()
	k.Image, k.Config = "boot/vmlinuz-"+k.Release, "boot/config-"+k.Release
	if _, err := os.Stat(filepath.Join(dir, k.Image)); err != nil {
		return k, fmt.Errorf("%s holds no %s", spec.Package(), k.Image)
	}
	return k, depmod(ctx, dir, k.Release)
}

// depmod writes modules.dep for the unpacked tree: a package's postinst
// would run it, but nothing is installed here.
func depmod(ctx context.Context, dir, release string) error {
	return Run(ctx, "", nil, "depmod", "-b", dir, release)
}

// errNoModule is a module the kernel has neither built in nor as a file.
var errNoModule = errors.New("module not found")
