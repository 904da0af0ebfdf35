package vagrant

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/provision/qemu"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/sandbox"
)

// qemuConf is appended to the private copy of /etc/libvirt/qemu.conf: qemu
// runs as root (else libvirt re-probes qemu on every call, 4-8 s each),
// without a security driver (none is set up on the host), and without
// cgroups (the host has no systemd; libvirt would leave machine/ groups
// in every controller).
const qemuConf = `
# relapse's private libvirtd
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
`

// startLibvirt starts virtlogd and libvirtd for this run, in the run's
// network namespace and a mount namespace where /etc/libvirt,
// /var/lib/libvirt, /var/log/libvirt and /run are private: nothing libvirt
// defines, starts or logs reaches the host.
func (h *hostSide) startLibvirt(ctx context.Context) error {
	lv := filepath.Join(h.dir, "libvirt")
	etc := filepath.Join(lv, "etc")
	for _, d := range []string{lv, filepath.Join(lv, "lib"), filepath.Join(lv, "log"), filepath.Join(lv, "sock"), filepath.Join(lv, "pool")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The host's configuration as installed, minus its networks: the
	// default network would autostart (bridge, dnsmasq) in our namespace for nothing.
	if err := local.New().Command("cp", "-a", "/etc/libvirt", etc).Run(ctx); err != nil {
		return fmt.Errorf("copying libvirt's configuration: %w", err)
	}
	_ = os.RemoveAll(filepath.Join(etc, "qemu", "networks"))
	if err := os.MkdirAll(filepath.Join(etc, "qemu", "networks"), 0o755); err != nil {
		return err
	}
	if err := appendFile(filepath.Join(etc, "qemu.conf"), qemuConf); err != nil {
		return err
	}
	sockDir := filepath.Join(lv, "sock")
	libvirtdConf := filepath.Join(lv, "libvirtd.conf")
	if err := os.WriteFile(libvirtdConf, []byte(fmt.Sprintf("unix_sock_dir = %q\nunix_sock_rw_perms = \"0700\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n", sockDir)), 0o644); err != nil {
		return err
	}
	virtlogdConf := filepath.Join(lv, "virtlogd.conf")
	if err := os.WriteFile(virtlogdConf, []byte("log_outputs = \"3:stderr\"\n"), 0o644); err != nil {
		return err
	}
	// Capabilities probes are cached across runs (qemu's binary decides them).
	capsCache := filepath.Join(h.rn.CacheDir, "vagrant", "libvirt-cache")
	if err := os.MkdirAll(capsCache, 0o755); err != nil {
		return err
	}
	prelude := fmt.Sprintf(`mount --bind %[1]s/etc /etc/libvirt
mount --bind %[1]s/lib /var/lib/libvirt
mkdir -p /var/log/libvirt /var/cache/libvirt
mount --bind %[1]s/log /var/log/libvirt
mount --bind %[2]s /var/cache/libvirt
virtlogd -d -f %[3]s`, lv, capsCache, virtlogdConf)
	d := &sandbox.Daemon{Node: local.New(), Name: "libvirtd", Dir: lv, Netns: h.netns,
		Argv: []string{"libvirtd", "-f", libvirtdConf}, Socket: filepath.Join(sockDir, "libvirt-sock"),
		Log: filepath.Join(lv, "libvirtd.log"), Prelude: "\n" + prelude + "\n"}
	stop, err := d.Start(ctx, h.rn.Journal, 60*time.Second)
	if err != nil {
		return err
	}
	h.rn.DeferCleanup("stop libvirtd and virtlogd", stop)
	h.uri = "qemu:///system?socket=" + d.Socket
	pool := filepath.Join(lv, "pool")
	for _, args := range [][]string{
		{"pool-define-as", "relapse", "dir", "--target", pool},
		{"pool-start", "relapse"},
	} {
		argv := append([]string{"virsh", "-q", "-c", h.uri}, args...)
		vctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := local.New().Command(argv[0], argv[1:]...).Run(vctx)
		cancel()
		if err != nil {
			return fmt.Errorf("setting up the storage pool: %w", err)
		}
	}
	return nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(text)
	return err
}

// Repairers stop what a killed run's Vagrant node left (its libvirtd,
// the VM under it, the ssh master) and remove its directory.
func (Provider) Repairers() map[string]run.Repairer {
	return map[string]run.Repairer{"vagrant-dir": run.LocalOnly(func(ctx context.Context, e run.Entry) (string, error) {
		note, err := qemu.RepairNodeDir(ctx, e.Data["dir"])
		if err != nil {
			return "", err
		}
		return "Vagrant node directory of run " + e.RunID + ": " + note, nil
	})}
}
