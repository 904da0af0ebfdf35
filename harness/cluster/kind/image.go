package kind

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/fixtures"
	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// kindModule is the kind module whose library relapse is built with; its
// images/base/files are the node image's kind parts.
const kindModule = "sigs.k8s.io/kind"

// nodePackages are what kind's base image installs that Debian has, plus
// containerd (Debian's; its runc is replaced by the runc under test) and
// the CNI plugins kindnetd would otherwise bring.
var nodePackages = []string{
	"systemd", "systemd-sysv", "dbus", "containerd", "containernetworking-plugins",
	"iptables", "iproute2", "conntrack", "ethtool", "kmod", "libseccomp2",
	"ca-certificates", "procps", "socat", "util-linux", "mount",
}

// Layout versions: bumped whenever what the builders write changes, so an
// old cached tree is not mistaken for the new one.
const (
	baseLayout = "1"
	nodeLayout = "7"
)

// Paths inside the node.
const (
	// cniDir holds the CNI configuration, the plugins (relapse's ledger
	// wrapper in front of bridge), host-local's allocations and the ledger.
	cniDir = "/var/lib/relapse-cni"
	// imagesDir holds the image archives imported when the node boots.
	imagesDir = "/kind/images"
	// runcPath is the runc under test; containerd runs nothing else.
	runcPath = "/usr/local/sbin/runc"
)

// NodeImage is a kind node image relapse built from cached parts.
type NodeImage struct {
	// Ref is the name it is imported under in relapse's dockerd.
	Ref string `json:"ref"`
	// Tree is the root filesystem (docker import streams it).
	Tree string `json:"-"`
	Key  string `json:"key"`
	// KindVersion is the kind module the base files came from.
	KindVersion string `json:"kind_version"`
	// Packages are Debian versions that matter to reports.
	Packages map[string]string `json:"packages"`
	// Images are preloaded into containerd; Skipped are the ones kubeadm
	// lists that have no offline build here.
	Images  []string `json:"images"`
	Skipped []string `json:"skipped"`
	// Changes are the image settings docker import is given.
	Changes      []string `json:"changes"`
	BuildSeconds float64  `json:"build_seconds"`
	Cached       bool     `json:"-"`
	BaseCached   bool     `json:"-"`
	Dir          string   `json:"-"`
}

// KindVersion is the version of the kind library in this binary. Test
// binaries carry no dependency list, so then it is what the source tree
// this binary was built from requires.
func KindVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == kindModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", kindModule)
	cmd.Dir = fixtures.SourceDir()
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// kindSource is the kind module's directory in the module cache (the go
// command fetches it from the module proxy when it is not there).
func kindSource(ctx context.Context, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", kindModule+"@"+version)
	cmd.Dir = versions.ModuleFreeDir
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s (for kind's node image files): %w\n%s", kindModule, version, err, out)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no module directory (%s %v)", kindModule, version, m.Error, err)
	}
	return m.Dir, nil
}

// base is the cached Debian tree every node image starts from.
func base(ctx context.Context, cacheRoot string, log func(string, ...any)) (dir string, cached bool, err error) {
	key := vm.HashKey(vm.Suite, strings.Join(nodePackages, ","), baseLayout)
	dir = filepath.Join(cacheRoot, "kind", "base", vm.Suite+"-"+key)
	mirror := vm.AptMirror()
	built, err := vm.CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		log("building the kind node base (debootstrap %s, ~2 min, cached in %s)", vm.Suite, dir)
		return vm.Debootstrap(ctx, filepath.Join(tmp, "tree"), mirror, nodePackages)
	})
	if err != nil {
		return "", false, fmt.Errorf("building the kind node base root filesystem: %w", err)
	}
	return dir, !built, nil
}

// BuildNodeImage returns the node image for o (a Kubernetes build and the
// runc under test), building it when the cache does not have it.
func BuildNodeImage(ctx context.Context, cacheRoot string, o cluster.Options, log func(string, ...any)) (NodeImage, error) {
	kindVersion := KindVersion()
	if kindVersion == "" {
		return NodeImage{}, fmt.Errorf("this binary was built without %s: cannot tell which kind the node image is for", kindModule)
	}
	baseDir, baseCached, err := base(ctx, cacheRoot, log)
	if err != nil {
		return NodeImage{}, err
	}
	inputs := []string{baseDir, kindVersion, nodeLayout, o.Version, o.ContainerdVersion}
	for _, f := range append(append(kubeBinaries(o.BinDir), o.Runc, "/usr/bin/etcd"), containerdBinaries(o)...) {
		st, err := os.Stat(f)
		if err != nil {
			return NodeImage{}, fmt.Errorf("node image input: %w", err)
		}
		inputs = append(inputs, fmt.Sprintf("%s:%d:%d", f, st.Size(), st.ModTime().UnixNano()))
	}
	key := vm.HashKey(inputs...)
	dir := filepath.Join(cacheRoot, "kind", "node", o.Version+"-"+key)
	img := NodeImage{Ref: "relapse.local/kind-node:" + o.Version + "-" + key, Key: key, KindVersion: kindVersion}
	built, err := vm.CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		start := time.Now()
		log("building the kind node image for Kubernetes %s (cached in %s)", o.Version, dir)
		b := nodeBuild{tree: filepath.Join(tmp, "tree"), o: o, cacheRoot: cacheRoot, img: &img}
		if err := b.run(ctx, filepath.Join(baseDir, "tree"), kindVersion); err != nil {
			return err
		}
		img.BuildSeconds = time.Since(start).Seconds()
		data, err := json.MarshalIndent(img, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "image.json"), data, 0o644)
	})
	if err != nil {
		return NodeImage{}, fmt.Errorf("building the kind node image: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "image.json"))
	if err != nil {
		return NodeImage{}, err
	}
	if err := json.Unmarshal(data, &img); err != nil {
		return NodeImage{}, fmt.Errorf("reading %s: %w", dir, err)
	}
	img.Dir, img.Tree, img.Cached, img.BaseCached = dir, filepath.Join(dir, "tree"), !built, baseCached
	return img, nil
}

// containerdBinaries are the containerd build's files (none when the
// node keeps Debian's).
func containerdBinaries(o cluster.Options) []string {
	if o.ContainerdDir == "" {
		return nil
	}
	var out []string
	for _, b := range cluster.ContainerdBinaries {
		out = append(out, o.ContainerdBinary(b))
	}
	return out
}

func kubeBinaries(binDir string) []string {
	var out []string
	for _, b := range []string{"kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		out = append(out, filepath.Join(binDir, b))
	}
	return out
}

// nodeBuild turns a copy of the base tree into a kind node.
type nodeBuild struct {
	tree      string
	o         cluster.Options
	cacheRoot string
	img       *NodeImage
}

func (b nodeBuild) run(ctx context.Context, baseTree, kindVersion string) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", baseTree, b.tree).CombinedOutput(); err != nil {
		return fmt.Errorf("copying the base tree: %w\n%s", err, out)
	}
	src, err := kindSource(ctx, kindVersion)
	if err != nil {
		return err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"kind's base files", func(context.Context) error { return b.kindFiles(filepath.Join(src, "images", "base", "files")) }},
		{"systemd units", func(context.Context) error { return b.units() }},
		{"containerd and CNI", func(context.Context) error { return b.runtime() }},
		{"Kubernetes binaries", func(context.Context) error { return b.binaries() }},
		{"images", b.images},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("node image, %s: %w", s.name, err)
		}
	}
	pkgs, err := vm.PackageVersions(ctx, b.tree, "containerd", "systemd", "libseccomp2", "containernetworking-plugins", "iptables")
	if err != nil {
		return err
	}
	b.img.Packages = pkgs
	// What kind's Dockerfile gives its image, except STOPSIGNAL SIGRTMIN+3,
	// which Debian's dockerd 20.10 refuses in an import (kind removes its
	// nodes with docker rm -f, so no stop signal is ever sent).
	b.img.Changes = []string{"ENV container=docker", `ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]`}
	return nil
}

func (b nodeBuild) path(p string) string { return filepath.Join(b.tree, p) }

func (b nodeBuild) write(p, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(b.path(p)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(b.path(p), []byte(content), mode)
}

func (b nodeBuild) copy(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return b.write(dst, string(data), mode)
}

// kindFiles copies kind's own node files, except the containerd ones (kind
// ships containerd 2 with a config it cannot read in 1.6; relapse writes
// its own).
func (b nodeBuild) kindFiles(files string) error {
	skip := map[string]bool{"etc/containerd/config.toml": true, "etc/systemd/system/containerd.service": true,
		"etc/systemd/system/containerd-fuse-overlayfs.service": true}
	return filepath.Walk(files, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(files, p)
		if err != nil || skip[rel] {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(rel, "usr/local/bin/") || strings.HasPrefix(rel, "kind/bin/") {
			mode = 0o755
		}
		return b.copy(p, rel, mode)
	})
}

// units does what kind's Dockerfile does to systemd (nothing starts but
// what a node needs), enables relapse's units, and masks
// systemd-sysctl.service: in a privileged container it would write the
// host's kernel parameters.
func (b nodeBuild) units() error {
	var remove []string
	for _, pattern := range []string{"lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service",
		"lib/systemd/system/multi-user.target.wants/*", "etc/systemd/system/*.wants/*",
		"lib/systemd/system/local-fs.target.wants/*", "lib/systemd/system/sockets.target.wants/*udev*",
		"lib/systemd/system/sockets.target.wants/*initctl*", "lib/systemd/system/basic.target.wants/*"} {
		m, err := filepath.Glob(b.path(pattern))
		if err != nil {
			return err
		}
		remove = append(remove, m...)
	}
	for _, f := range remove {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	journald, err := os.ReadFile(b.path("etc/systemd/journald.conf"))
	if err != nil {
		return err
	}
	if err := b.write("etc/systemd/journald.conf", string(journald)+"ReadKMsg=no\n", 0o644); err != nil {
		return err
	}
	if err := b.write("etc/systemd/system/relapse-images.service", `[Unit]
Description=relapse: import the offline images into containerd's k8s.io namespace
Requires=containerd.service
After=containerd.service
Before=kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -ec 'for i in `+imagesDir+`/*.tar; do ctr -n k8s.io images import "$i"; done'

[Install]
WantedBy=multi-user.target
`, 0o644); err != nil {
		return err
	}
	// See kubeletCgroupsScript.
	if err := b.write("etc/systemd/system/kubelet.service.d/20-relapse.conf", `# kubelet must not start static pods before their images are imported.
[Unit]
Wants=relapse-images.service
After=relapse-images.service

[Service]
ExecStartPre=/kind/bin/relapse-kubelet-cgroups.sh
`, 0o644); err != nil {
		return err
	}
	if err := b.write("kind/bin/relapse-kubelet-cgroups.sh", kubeletCgroupsScript(cluster.Minor(b.o.Version) < 24), 0o755); err != nil {
		return err
	}
	// Debian's unit asks for -999, which needs CAP_SYS_RESOURCE (not every
	// host grants it to a privileged container); 0 is what it has.
	if err := b.write("etc/systemd/system/containerd.service.d/20-relapse.conf", "[Service]\nOOMScoreAdjust=0\n", 0o644); err != nil {
		return err
	}
	wants := map[string]string{
		"kubelet.service":          "/etc/systemd/system/kubelet.service",
		"containerd.service":       "/lib/systemd/system/containerd.service",
		"undo-mount-hacks.service": "/etc/systemd/system/undo-mount-hacks.service",
		"relapse-images.service":   "/etc/systemd/system/relapse-images.service",
	}
	if err := os.MkdirAll(b.path("etc/systemd/system/multi-user.target.wants"), 0o755); err != nil {
		return err
	}
	for name, target := range wants {
		if err := os.Symlink(target, b.path("etc/systemd/system/multi-user.target.wants/"+name)); err != nil {
			return err
		}
	}
	for _, masked := range []string{"systemd-binfmt.service", "systemd-sysctl.service"} {
		if err := os.Symlink("/dev/null", b.path("etc/systemd/system/"+masked)); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(b.path("sbin/init")); os.IsNotExist(err) {
		if err := os.Symlink("/lib/systemd/systemd", b.path("sbin/init")); err != nil {
			return err
		}
	}
	return os.MkdirAll(b.path("etc/kubernetes/manifests"), 0o755)
}

// kubeletCgroupsScript runs before kubelet. kind's entrypoint makes
// /kubelet in the cgroup v1 hierarchies and bind-mounts each onto itself
// (so the node's systemd leaves it alone). kubelet's cgroupfs driver (kind
// uses it below Kubernetes 1.24) checks /kubelet in every hierarchy, the
// unified one of a hybrid host too; and kubelet 1.19 takes the last mount
// listed for a controller as its mount point, which is that bind mount:
// it looked for /sys/fs/cgroup/cpu/kubelet/kubelet and refused to start.
// For those versions the bind mounts go (kubelet owns the groups from
// here on) and /kubelet is made wherever it is missing.
func kubeletCgroupsScript(cgroupfs bool) string {
	script := "#!/bin/sh\n# relapse: kubelet's cgroup root, see harness/cluster/kind (kubeletCgroupsScript)\n"
	if cgroupfs {
		script += `for m in $(grep ' - cgroup ' /proc/self/mountinfo | cut -d' ' -f5 | grep -E '/kubelet(\.slice)?$'); do
  umount "$m" && echo "relapse: unmounted the bind mount on $m"
done
`
	}
	return script + `for c in /sys/fs/cgroup/*/; do
  [ -e "${c}cgroup.procs" ] || continue
  [ -d "${c}kubelet" ] && continue
  mkdir -p "${c}kubelet" && echo "relapse: made ${c}kubelet"
  if [ -e "${c}cpuset.cpus" ]; then cat "${c}cpuset.cpus" > "${c}kubelet/cpuset.cpus"; cat "${c}cpuset.mems" > "${c}kubelet/cpuset.mems"; fi
done
exit 0
`
}

// runtime writes containerd's configuration (CRI with the runc under test,
// the cgroup driver kind's kubelet configuration uses for this version)
// and the CNI network through relapse's ledger wrapper.
func (b nodeBuild) runtime() error {
	if err := b.copy(b.o.Runc, runcPath, 0o755); err != nil {
		return err
	}
	// The containerd build replaces Debian's binaries where Debian's unit
	// and PATH find them: the daemon, the shim it starts, ctr.
	for _, name := range cluster.ContainerdBinaries {
		if b.o.ContainerdDir == "" {
			break
		}
		if err := b.copy(b.o.ContainerdBinary(name), "usr/bin/"+name, 0o755); err != nil {
			return err
		}
	}
	cni := cluster.CNIFiles{HostDir: b.path(cniDir), NodeDir: cniDir}
	if err := cni.Write(); err != nil {
		return err
	}
	// kind configures kubelet with the systemd driver from 1.24, cgroupfs before.
	systemd := cluster.Minor(b.o.Version) >= 24
	config := cluster.CRIConfig{ContainerdVersion: b.o.ContainerdVersion, Runc: runcPath, SystemdCgroup: systemd, CNIBinDir: cni.BinDir(),
		CNIConfDir: cni.ConfDir(), Snapshotter: "overlayfs"}.Document("")
	if err := b.write("etc/containerd/config.toml", config, 0o644); err != nil {
		return err
	}
	return b.write("etc/crictl.yaml", "runtime-endpoint: unix:///run/containerd/containerd.sock\n", 0o644)
}

// binaries puts kubeadm, kubelet and kubectl where kind's units and
// commands expect them, and the version kind reads.
func (b nodeBuild) binaries() error {
	for _, name := range []string{"kubeadm", "kubelet", "kubectl"} {
		if err := b.copy(filepath.Join(b.o.BinDir, name), "usr/bin/"+name, 0o755); err != nil {
			return err
		}
	}
	return b.write("kind/version", b.o.Version+"\n", 0o644)
}

// images writes an archive of every image kubeadm will run that can be
// made here (the control plane from the same build, etcd from Debian)
// plus relapse's pause and busybox.
func (b nodeBuild) images(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, filepath.Join(b.o.BinDir, "kubeadm"), "config", "images", "list",
		"--kubernetes-version", b.o.Version).Output()
	if err != nil {
		return fmt.Errorf("kubeadm config images list: %w", err)
	}
	specs, err := cluster.WorkloadImages(ctx, b.cacheRoot)
	if err != nil {
		return err
	}
	for _, ref := range strings.Fields(string(out)) {
		spec, ok, err := controlPlaneImage(ref, b.o.BinDir)
		if err != nil {
			return err
		}
		if !ok {
			b.img.Skipped = append(b.img.Skipped, ref)
			continue
		}
		specs = append(specs, spec)
	}
	if err := os.MkdirAll(b.path(imagesDir), 0o755); err != nil {
		return err
	}
	for _, spec := range specs {
		if _, err := fixture.WriteImageArchive(b.path(path.Join(imagesDir, cluster.ImageArchiveName(spec.Ref))), spec); err != nil {
			return err
		}
		b.img.Images = append(b.img.Images, spec.Ref)
	}
	sort.Strings(b.img.Images)
	return nil
}

// controlPlaneImage is the offline image for one of kubeadm's references:
// ok is false for the ones that cannot be made here (coredns, kube-proxy
// with kubeProxyMode none, kubeadm's pause: the sandbox is relapse's).
func controlPlaneImage(ref, binDir string) (fixture.ImageSpec, bool, error) {
	name := path.Base(ref)
	if i := strings.LastIndex(name, ":"); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "kube-apiserver", "kube-controller-manager", "kube-scheduler":
		return fixture.ImageSpec{Ref: ref, Files: map[string]fixture.ImageFile{"usr/bin/" + name: {Source: filepath.Join(binDir, name)}}}, true, nil
	case "etcd":
		files, err := withLibraries("/usr/bin/etcd")
		if err != nil {
			return fixture.ImageSpec{}, false, err
		}
		return fixture.ImageSpec{Ref: ref, Files: files}, true, nil
	}
	return fixture.ImageSpec{}, false, nil
}

// withLibraries is a binary and the shared libraries ldd says it loads.
func withLibraries(bin string) (map[string]fixture.ImageFile, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	files := map[string]fixture.ImageFile{strings.TrimPrefix(bin, "/"): {Source: bin}}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"
		f := strings.Fields(sc.Text())
		lib := ""
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		}
		if lib == "" {
			continue
		}
		resolved, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return nil, err
		}
		files[strings.TrimPrefix(lib, "/")] = fixture.ImageFile{Source: resolved, Mode: 0o755}
	}
	return files, nil
}
