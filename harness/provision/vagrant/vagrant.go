package vagrant

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/node/remote"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/provision/qemu"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/vm"
	files "github.com/relapse-dev/relapse/vagrant"
)

// Provider makes Vagrant nodes.
type Provider struct{}

func (Provider) Name() string { return "vagrant" }
func (Provider) Describe() string {
	return "a Vagrant box on libvirt (BOX=name, or relapse's own box built offline for KERNEL=...)"
}

// UpTimeout bounds `vagrant up` (measured ~50 s under emulation).
var UpTimeout = 8 * time.Minute

var tools = map[string]string{
	"vagrant": "vagrant", "libvirtd": "libvirt-daemon-system", "virtlogd": "libvirt-daemon-system",
	"virsh": "libvirt-clients", "dnsmasq": "dnsmasq-base", "qemu-system-x86_64": "qemu-system-x86",
	"nsenter": "util-linux", "unshare": "util-linux", "ip": "iproute2",
}

func (Provider) Check(ctx context.Context, spec provision.Spec) error {
	var missing []string
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", tool, pkg))
		}
	}
	if _, err := os.Stat("/usr/share/vagrant-plugins/plugins.d/vagrant-libvirt.json"); err != nil && len(missing) == 0 {
		if out, err := exec.CommandContext(ctx, "vagrant", "plugin", "list").Output(); err != nil || !strings.Contains(string(out), "vagrant-libvirt") {
			missing = append(missing, "the vagrant-libvirt plugin (Debian package vagrant-libvirt)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("PROVIDER=vagrant needs: %s; run `make deps-vm`", strings.Join(missing, ", "))
	}
	if spec.Box != "" {
		if spec.Kernel != "" {
			return fmt.Errorf("BOX=%s brings its own kernel: KERNEL applies only to relapse's own box (leave BOX empty)", spec.Box)
		}
		return nil
	}
	k, err := vm.ParseKernel(spec.Kernel, spec.KernelModules)
	if err != nil {
		return err
	}
	if k.Image != "" {
		return errors.New("relapse's Vagrant box takes a Debian kernel; a bzImage works with PROVIDER=qemu")
	}
	return k.Resolve(ctx)
}

// Missing: libvirtd, namespaces and the box build need root.
func (Provider) Missing() []string {
	if os.Geteuid() != 0 {
		return []string{"root (euid 0): relapse runs its own libvirtd in namespaces of its own; run with sudo"}
	}
	return nil
}

// hostSide is one Vagrant node's host side: its directory, namespace,
// libvirtd and the environment of every vagrant command.
type hostSide struct {
	rn      *run.Run
	dir     string
	netns   *sandbox.Netns
	vagrant []string // env for every vagrant command
	uri     string
}

func (p Provider) Provision(ctx context.Context, spec provision.Spec, rn *run.Run) (node.Node, error) {
	if len(spec.Disks) > 0 {
		return nil, fmt.Errorf("the vagrant provider attaches no extra disks (%s wants %d); use PROVIDER=qemu", rn.Report.Scenario, len(spec.Disks))
	}
	h := &hostSide{rn: rn, dir: qemu.NewNodeDir(rn.ID, "v-")}
	if _, err := rn.OwnLocal(ctx, "remove "+h.dir, "vagrant-dir", map[string]string{"dir": h.dir}, nil,
		func(ctx context.Context) error { return qemu.RemoveNodeDir(ctx, h.dir) }); err != nil {
		return nil, err
	}
	if err := qemu.MakeNodeDir(h.dir); err != nil {
		return nil, err
	}
	key, err := vm.SSHKey(ctx, rn.CacheDir)
	if err != nil {
		return nil, err
	}
	b, err := h.ensureBox(ctx, spec)
	if err != nil {
		return nil, err
	}
	box, kernel := b.name, b.kernel
	ns, err := sandbox.NewNetns(ctx, rn, "relapse-vagrant-"+rn.Short())
	if err != nil {
		return nil, err
	}
	h.netns = ns
	if err := h.startLibvirt(ctx); err != nil {
		return nil, err
	}
	if kernel.Release == "" {
		kernel.Release = "the box's kernel"
	}
	accel := qemu.ChooseAccel(kernel)
	driver := "qemu"
	if accel.Name == "kvm" {
		driver = "kvm"
	}
	mem, cpus := spec.MemoryMiB, spec.CPUs
	if mem == 0 {
		mem = 1536
	}
	if cpus == 0 {
		cpus = 2
	}
	if err := os.WriteFile(filepath.Join(h.dir, "Vagrantfile"), files.Vagrantfile, 0o644); err != nil {
		return nil, err
	}
	h.vagrant = []string{"VAGRANT_HOME=" + vagrantHome(rn.CacheDir), "VAGRANT_CWD=" + h.dir,
		"VAGRANT_DOTFILE_PATH=" + filepath.Join(h.dir, ".vagrant"), "VAGRANT_CHECKPOINT_DISABLE=1",
		"VAGRANT_BOX_UPDATE_CHECK_DISABLE=1", "VAGRANT_DEFAULT_PROVIDER=libvirt",
		"RELAPSE_BOX=" + box, "RELAPSE_SSH_KEY=" + key, "RELAPSE_LIBVIRT_URI=" + h.uri, "RELAPSE_POOL=relapse",
		"RELAPSE_LIBVIRT_DRIVER=" + driver, "RELAPSE_MEMORY=" + strconv.Itoa(mem), "RELAPSE_CPUS=" + strconv.Itoa(cpus)}
	rn.DeferCleanupWithin("vagrant destroy", 3*time.Minute, func(ctx context.Context) error {
		_, err := h.vagrantCmd(ctx, 2*time.Minute, "destroy", "-f")
		return err
	})
	began := time.Now()
	rn.Logf("vagrant up (box %s, libvirt driver %s) in %s", box, driver, h.dir)
	if err := rn.Timed("vagrant up", box, func() error {
		_, err := h.vagrantCmd(ctx, UpTimeout, "up", "--provider=libvirt", "--no-provision")
		return err
	}); err != nil {
		return nil, err
	}
	upSeconds := time.Since(began).Seconds()
	cfg, err := h.sshConfig(ctx)
	if err != nil {
		return nil, err
	}
	cfg.NodeName, cfg.ProviderName = "vagrant-"+strings.TrimPrefix(strings.ReplaceAll(box, "/", "-"), "relapse-"), "vagrant"
	cfg.ControlDir, cfg.Via = filepath.Join(h.dir, "ssh"), ns.Wrap()
	cfg.Sudo = cfg.User != "root"
	if err := os.MkdirAll(cfg.ControlDir, 0o700); err != nil {
		return nil, err
	}
	hostKeys := "not pinned: the user's box, whose host keys relapse did not make (any key is accepted)"
	if b.rootfs != nil {
		// relapse's own box is its root filesystem: the same host keys as a
		// qemu node's, so ssh takes nothing else that answers on the box's
		// address for the box (libvirt's dnsmasq hands addresses out).
		if cfg.KnownHosts, err = qemu.PinHostKeys(h.dir, *b.rootfs); err != nil {
			return nil, err
		}
		cfg.HostKeyAlias = qemu.HostKeyAlias
		hostKeys = "pinned: the keys root filesystem " + b.rootfs.Key + " was built with"
	}
	n := remote.New(cfg)
	rn.DeferCleanup("close ssh to the box", func(context.Context) error { return n.Close() })
	if err := n.WaitReady(ctx, time.Second); err != nil {
		return nil, err
	}
	agentBin, err := agent.Build(ctx, rn.CacheDir)
	if err != nil {
		return nil, err
	}
	if err := n.CopyIn(ctx, agentBin, agent.NodePath, 0o755); err != nil {
		return nil, fmt.Errorf("copying the agent onto the box: %w", err)
	}
	rn.NodeFact(
		report.Fact{Name: "provider", Value: "vagrant " + toolVersion(ctx, "vagrant", "--version") + " with vagrant-libvirt, libvirtd " + toolVersion(ctx, "libvirtd", "--version")},
		report.Fact{Name: "box", Value: b.fact},
		report.Fact{Name: "ssh host keys", Value: hostKeys},
		report.Fact{Name: "accelerator", Value: "libvirt driver " + driver + ": " + accel.Why},
		report.Fact{Name: "vagrant up", Value: fmt.Sprintf("%.1f s", upSeconds)},
		report.Fact{Name: "libvirt", Value: "private libvirtd/virtlogd in network namespace " + ns.Name + " and their own mount namespace; URI " + h.uri},
		report.Fact{Name: "bring the node up by hand", Value: "cd vagrant && VAGRANT_HOME=" + vagrantHome(rn.CacheDir) + " RELAPSE_BOX=" + box + " RELAPSE_SSH_KEY=" + key +
			" RELAPSE_POOL=default vagrant up --provider=libvirt  # with the host's own libvirtd"},
		report.Fact{Name: "ssh into the node", Value: n.SSHCommand()},
	)
	return n, nil
}

// vagrantCmd runs the vagrant CLI inside the namespace, under a deadline.
func (h *hostSide) vagrantCmd(ctx context.Context, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := h.netns.Wrap(append([]string{"vagrant"}, args...)...)
	// Everything vagrant says goes to a log the report keeps: a stuck
	// `vagrant up` says where it waits ("Waiting for domain to get an IP address").
	log := filepath.Join(h.dir, "vagrant.log")
	var stdout bytes.Buffer
	f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "\n$ vagrant %s\n", strings.Join(args, " "))
	cmd := local.New().Command(argv[0], argv[1:]...).SetEnv(h.vagrant...).SetDir(h.dir).
		SetStdout(io.MultiWriter(&stdout, f)).SetStderr(f)
	start := time.Now()
	err = cmd.Run(ctx)
	h.rn.Step(report.Step{At: start.UTC(), Name: "vagrant " + args[0], Command: cmd.String(), Seconds: time.Since(start).Seconds(), Status: status(err)})
	if err != nil {
		if data, rerr := os.ReadFile(log); rerr == nil {
			h.rn.Evidence("vagrant output (vagrant "+args[0]+" failed)", vagrantOutputTail(string(data), 60))
		}
	}
	return stdout.Bytes(), err
}

// vagrantOutputTail keeps the end of vagrant's output, without its progress meter
// (one line redrawn hundreds of times while a box image uploads).
func vagrantOutputTail(s string, n int) string {
	progress := regexp.MustCompile(`(Progress: [0-9]+%[\r\x1b\[K]*)+`)
	s = progress.ReplaceAllString(s, "")
	return textutil.LastLines(s, n)
}

func status(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// sshConfig reads how vagrant reaches the box.
func (h *hostSide) sshConfig(ctx context.Context) (remote.Config, error) {
	out, err := h.vagrantCmd(ctx, time.Minute, "ssh-config")
	if err != nil {
		return remote.Config{}, err
	}
	cfg := remote.Config{Port: 22}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "HostName":
			cfg.Host = f[1]
		case "User":
			cfg.User = f[1]
		case "Port":
			cfg.Port, _ = strconv.Atoi(f[1])
		case "IdentityFile":
			if cfg.KeyFile == "" {
				cfg.KeyFile = strings.Trim(f[1], `"`)
			}
		}
	}
	if cfg.Host == "" || cfg.KeyFile == "" {
		return cfg, fmt.Errorf("vagrant ssh-config gave no HostName/IdentityFile:\n%s", out)
	}
	return cfg, nil
}

func toolVersion(ctx context.Context, tool string, args ...string) string {
	out, err := exec.CommandContext(ctx, tool, args...).Output()
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "?"
	}
	return f[len(f)-1]
}
