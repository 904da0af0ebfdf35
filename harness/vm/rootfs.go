package vm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/versions"
)

// Suite is the Debian release every VM root filesystem is made from.
const Suite = "bookworm"

// RootfsPackages are installed on top of debootstrap's minbase: systemd as
// PID 1 with D-Bus (the systemd bugs need both), sshd (the command channel),
// libseccomp2 (runc is linked against it) and the tools detectors call.
// etcd, containerd (with ctr), the CNI plugins and iptables are what a bare
// Kubernetes cluster on the node runs besides the Kubernetes binaries
// relapse copies in; their own services are masked (relapse starts them
// in namespaces of their own, as on the host). docker.io is there for the
// seed's own recipe (`docker run` in a loop) on node kernels of its time;
// its services are masked too.
// gdb is left out on purpose: its libsource-highlight fails to configure
// under debootstrap, and relapse's node agent writes PID 1's memory itself.
var RootfsPackages = []string{
	"systemd", "systemd-sysv", "dbus", "udev", "kmod", "iproute2", "openssh-server",
	"procps", "netbase", "ca-certificates", "libseccomp2", "psmisc",
	"etcd-server", "containerd", "containernetworking-plugins", "iptables", "docker.io",
}

// rootfsLayout is bumped whenever configureRootfs changes what it writes,
// so an old cached image is not mistaken for the new one.
const rootfsLayout = "5"

// Rootfs is a cached root filesystem: the tree, and a qcow2 base image of it.
type Rootfs struct {
	Dir string `json:"-"`
	// Tree is the unpacked root filesystem (the vagrant box build reuses it).
	Tree string `json:"tree"`
	// Base is the qcow2 image nodes overlay.
	Base     string   `json:"base"`
	Suite    string   `json:"suite"`
	Packages []string `json:"packages"`
	Key      string   `json:"key"`
	// Mirror is the apt source debootstrap used ("" = its default).
	Mirror string `json:"mirror"`
	// BuildSeconds is how long the build took when it was made.
	BuildSeconds float64 `json:"build_seconds"`
	// Variant names what replaced packages of the base ("" for the base).
	Variant string `json:"variant,omitempty"`
	// Versions of packages that matter to reports (systemd, libseccomp2, ...).
	Versions map[string]string `json:"versions"`
	Cached   bool              `json:"-"`
}

// SSHKey is the key pair relapse logs into its VM nodes with; it is made
// once per cache and baked into the root filesystem.
func SSHKey(ctx context.Context, cacheRoot string) (string, error) {
	key := filepath.Join(cacheRoot, "vm", "ssh", "id_ed25519")
	if _, err := os.Stat(key); err == nil {
		return key, nil
	}
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		return "", err
	}
	tmp := key + ".tmp"
	_ = os.Remove(tmp)
	_ = os.Remove(tmp + ".pub")
	if err := Run(ctx, "", nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "relapse-vm-node", "-f", tmp); err != nil {
		return "", fmt.Errorf("making the VM ssh key: %w", err)
	}
	if err := os.Rename(tmp+".pub", key+".pub"); err != nil {
		return "", err
	}
	return key, os.Rename(tmp, key)
}

// BuildRootfs returns the cached root filesystem, making it with
// debootstrap from the host's apt mirror when it is not there (~2 min).
func BuildRootfs(ctx context.Context, cacheRoot string, log func(string, ...any)) (Rootfs, error) {
	if err := requireTools(map[string]string{"debootstrap": "debootstrap", "mkfs.ext4": "e2fsprogs",
		"qemu-img": "qemu-utils", "ssh-keygen": "openssh-client"}); err != nil {
		return Rootfs{}, err
	}
	key, err := SSHKey(ctx, cacheRoot)
	if err != nil {
		return Rootfs{}, err
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		return Rootfs{}, err
	}
	id := HashKey(Suite, strings.Join(RootfsPackages, ","), rootfsLayout, string(pub))
	dir := filepath.Join(cacheRoot, "vm", "rootfs", Suite+"-"+id)
	mirror := AptMirror()
	built, err := CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		start := time.Now()
		log("building the VM root filesystem (debootstrap %s, ~2 min, cached in %s)", Suite, dir)
		tree := filepath.Join(tmp, "tree")
		if err := Debootstrap(ctx, tree, mirror, RootfsPackages); err != nil {
			return err
		}
		if err := configureRootfs(ctx, tree, pub); err != nil {
			return err
		}
		versions, err := PackageVersions(ctx, tree, "systemd", "libseccomp2", "dbus", "openssh-server", "containerd", "etcd-server", "containernetworking-plugins")
		if err != nil {
			return err
		}
		if err := baseImage(ctx, tree, tmp); err != nil {
			return err
		}
		return WriteJSON(filepath.Join(tmp, "rootfs.json"), Rootfs{Tree: "tree", Base: "base.qcow2", Suite: Suite,
			Packages: RootfsPackages, Key: id, Mirror: mirror, BuildSeconds: time.Since(start).Seconds(), Versions: versions})
	})
	if err != nil {
		return Rootfs{}, fmt.Errorf("building the VM root filesystem: %w", err)
	}
	return loadRootfs(dir, built)
}

// Debootstrap makes a Debian tree (Suite, minbase + packages) at tree from
// mirror ("" for debootstrap's default; AptMirror gives the host's).
func Debootstrap(ctx context.Context, tree, mirror string, packages []string) error {
	args := []string{"--variant=minbase", "--include=" + strings.Join(packages, ","), Suite, tree}
	if mirror != "" {
		args = append(args, mirror)
	}
	if err := Run(ctx, "", nil, "debootstrap", args...); err != nil {
		return fmt.Errorf("debootstrap: %w", err)
	}
	return nil
}

// loadRootfs reads a cached root filesystem's description.
func loadRootfs(dir string, built bool) (Rootfs, error) {
	var r Rootfs
	if err := ReadJSON(filepath.Join(dir, "rootfs.json"), &r); err != nil {
		return Rootfs{}, err
	}
	r.Dir, r.Cached = dir, !built
	r.Tree, r.Base = filepath.Join(dir, r.Tree), filepath.Join(dir, r.Base)
	return r, nil
}

// HostKeys are the public ssh host keys the root filesystem was built with
// ("ssh-ed25519 AAAA...", one per key type), for a client to pin: every
// node of the image presents them, since configureRootfs makes them once
// per image.
func (r Rootfs) HostKeys() ([]string, error) {
	pubs, err := filepath.Glob(filepath.Join(r.Tree, "etc", "ssh", "ssh_host_*_key.pub"))
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, p := range pubs {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading the node's host key: %w", err)
		}
		// "type key comment": the comment (root@host of the build) is not pinned.
		if f := strings.Fields(string(data)); len(f) >= 2 {
			keys = append(keys, f[0]+" "+f[1])
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the root filesystem %s has no ssh host keys (etc/ssh/ssh_host_*_key.pub) to pin", r.Tree)
	}
	return keys, nil
}

// baseImage makes dir/base.qcow2 of the tree.
func baseImage(ctx context.Context, tree, dir string) error {
	raw := filepath.Join(dir, "rootfs.ext4")
	// mkfs -d fills the file system from the tree without a loop device.
	if err := Run(ctx, "", nil, "mkfs.ext4", "-q", "-F", "-L", "relapse-root", "-d", tree, raw, "3G"); err != nil {
		return err
	}
	if err := Run(ctx, "", nil, "qemu-img", "convert", "-O", "qcow2", raw, filepath.Join(dir, "base.qcow2")); err != nil {
		return err
	}
	return os.Remove(raw)
}

// RootfsVariant is a root filesystem with some of its packages replaced
// by other builds of them (systemd from Debian source with a revert).
type RootfsVariant struct {
	// Name says what the variant is, for reports.
	Name string
	// Debs are the .deb files to install over the base; only packages the
	// base has installed are replaced, so the set stays consistent.
	Debs []string
}

// BuildRootfsVariant makes (cached) a copy of base with the variant's
// packages installed over it (dpkg -i in a chroot with a private mount and
// PID namespace) and its own qcow2 base image.
func BuildRootfsVariant(ctx context.Context, cacheRoot string, base Rootfs, v RootfsVariant, log func(string, ...any)) (Rootfs, error) {
	parts := []string{base.Key, v.Name}
	for _, deb := range v.Debs {
		sum, err := versions.FileSHA256(deb)
		if err != nil {
			return Rootfs{}, err
		}
		parts = append(parts, sum)
	}
	id := HashKey(parts...)
	dir := filepath.Join(cacheRoot, "vm", "rootfs", Suite+"-"+base.Key+"-variant-"+id)
	built, err := CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		start := time.Now()
		log("building the VM root filesystem variant %q (cached in %s)", v.Name, dir)
		tree := filepath.Join(tmp, "tree")
		if err := Run(ctx, "", nil, "cp", "-a", base.Tree, tree); err != nil {
			return err
		}
		replace, names, err := installedDebs(ctx, tree, v.Debs)
		if err != nil {
			return err
		}
		if len(replace) == 0 {
			return fmt.Errorf("variant %q replaces nothing: none of its packages is installed in the base root filesystem", v.Name)
		}
		staging := filepath.Join(tree, "tmp", "relapse-debs")
		if err := os.MkdirAll(staging, 0o755); err != nil {
			return err
		}
		args := []string{"--mount", "--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc=" + filepath.Join(tree, "proc"),
			"chroot", tree, "env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i"}
		for _, deb := range replace {
			if err := Run(ctx, "", nil, "cp", deb, staging); err != nil {
				return err
			}
			args = append(args, "/tmp/relapse-debs/"+filepath.Base(deb))
		}
		if err := Run(ctx, "", nil, "unshare", args...); err != nil {
			return fmt.Errorf("installing the variant's packages: %w", err)
		}
		if err := os.RemoveAll(staging); err != nil {
			return err
		}
		installed, err := PackageVersions(ctx, tree, append(names, "libseccomp2", "dbus", "openssh-server", "containerd", "etcd-server", "containernetworking-plugins")...)
		if err != nil {
			return err
		}
		if err := baseImage(ctx, tree, tmp); err != nil {
			return err
		}
		r := base
		r.Tree, r.Base, r.Key, r.Variant, r.Versions = "tree", "base.qcow2", base.Key+"-variant-"+id, v.Name, installed
		r.BuildSeconds = time.Since(start).Seconds()
		return WriteJSON(filepath.Join(tmp, "rootfs.json"), r)
	})
	if err != nil {
		return Rootfs{}, fmt.Errorf("building the root filesystem variant %q: %w", v.Name, err)
	}
	return loadRootfs(dir, built)
}

// installedDebs picks the .debs whose package the tree has installed.
func installedDebs(ctx context.Context, tree string, debs []string) (picked, names []string, err error) {
	byName := map[string]string{}
	for _, deb := range debs {
		out, err := exec.CommandContext(ctx, "dpkg-deb", "-f", deb, "Package").Output()
		if err != nil {
			return nil, nil, fmt.Errorf("dpkg-deb -f %s: %w", deb, err)
		}
		name := strings.TrimSpace(string(out))
		byName[name] = deb
		names = append(names, name)
	}
	installed, err := PackageVersions(ctx, tree, names...)
	if err != nil {
		return nil, nil, err
	}
	names = names[:0]
	for name, deb := range byName {
		if _, ok := installed[name]; ok {
			picked = append(picked, deb)
			names = append(names, name)
		}
	}
	sort.Strings(picked)
	sort.Strings(names)
	return picked, names, nil
}

// configureRootfs turns the debootstrap tree into a node: a fixed address
// on qemu's user network (no DHCP wait), root login with relapse's key
// only, no timers that would run apt in the middle of an experiment, and
// the mount point of the per-kernel modules disk.
func configureRootfs(ctx context.Context, tree string, pubKey []byte) error {
	files := map[string]string{
		"etc/hostname": "relapse-node\n",
		"etc/hosts":    "127.0.0.1 localhost\n127.0.1.1 relapse-node\n",
		"etc/fstab":    "# the root and /lib/modules are mounted by relapse's initramfs\n",
		"etc/systemd/network/10-qemu.network": "[Match]\nName=en* eth*\n\n[Network]\n" +
			"Address=10.0.2.15/24\nGateway=10.0.2.2\nDNS=10.0.2.3\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n",
		"etc/ssh/sshd_config.d/relapse.conf": "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\nMaxSessions 64\nMaxStartups 64:30:128\n",
		"root/.ssh/authorized_keys":          string(pubKey),
		// Journal in memory: the node is thrown away, and writes to the
		// overlay cost time under emulation.
		"etc/systemd/journald.conf.d/relapse.conf": "[Journal]\nStorage=volatile\n",
		"etc/relapse-node":                         "built by relapse (harness/vm) for disposable VM nodes\n",
	}
	for rel, content := range files {
		p := filepath.Join(tree, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(rel, "root/.ssh") {
			mode = 0o600
			if err := os.Chmod(filepath.Dir(p), 0o700); err != nil {
				return err
			}
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			return err
		}
	}
	for _, d := range []string{"lib/modules", "opt/relapse"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return err
		}
	}
	links := map[string]string{
		"etc/systemd/system/multi-user.target.wants/systemd-networkd.service": "/lib/systemd/system/systemd-networkd.service",
		"etc/systemd/system/systemd-networkd-wait-online.service":             "/dev/null",
		"etc/systemd/system/apt-daily.timer":                                  "/dev/null",
		"etc/systemd/system/apt-daily-upgrade.timer":                          "/dev/null",
		"etc/systemd/system/e2scrub_all.timer":                                "/dev/null",
		"etc/systemd/system/fstrim.timer":                                     "/dev/null",
		"etc/systemd/system/getty@tty1.service":                               "/dev/null",
		"etc/systemd/system/etcd.service":                                     "/dev/null",
		"etc/systemd/system/containerd.service":                               "/dev/null",
		"etc/systemd/system/docker.service":                                   "/dev/null",
		"etc/systemd/system/docker.socket":                                    "/dev/null",
	}
	for rel, target := range links {
		p := filepath.Join(tree, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		_ = os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	// Host keys are made once per image: every node of it has the same
	// identity, which is what a throw-away test node wants.
	if err := Run(ctx, "", nil, "ssh-keygen", "-A", "-f", tree); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(tree, "etc/machine-id"), nil, 0o444)
}

// PackageVersions reads installed versions from the tree's dpkg status.
func PackageVersions(ctx context.Context, tree string, names ...string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(tree, "var/lib/dpkg/status"))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]string{}
	for _, stanza := range strings.Split(string(data), "\n\n") {
		var pkg, version string
		for _, line := range strings.Split(stanza, "\n") {
			if v, ok := strings.CutPrefix(line, "Package: "); ok {
				pkg = v
			} else if v, ok := strings.CutPrefix(line, "Version: "); ok {
				version = v
			}
		}
		if want[pkg] {
			out[pkg] = version
		}
	}
	return out, nil
}

// AptMirror finds the Debian mirror the host's apt uses, so the image comes
// from the same (possibly local) mirror; "" lets debootstrap choose.
func AptMirror() string {
	var files []string
	files = append(files, "/etc/apt/sources.list")
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append(files, more...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := mirrorIn(string(data)); m != "" {
			return m
		}
	}
	return ""
}

// mirrorIn returns the first URI serving the main Debian suite, from either
// the one-line ("deb URI suite ...") or the deb822 ("URIs:") format.
func mirrorIn(sources string) string {
	var uris []string
	for _, line := range strings.Split(sources, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "deb" && !strings.HasPrefix(f[1], "["):
			if f[2] == Suite {
				return f[1]
			}
		case len(f) >= 2 && f[0] == "URIs:":
			uris = f[1:]
		case len(f) >= 2 && f[0] == "Suites:":
			for _, s := range f[1:] {
				if s == Suite && len(uris) > 0 {
					return uris[0]
				}
			}
		case len(f) == 0:
			uris = nil
		}
	}
	return ""
}
