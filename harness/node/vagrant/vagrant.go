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

	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/node/qemu"
	"github.com/relapse-dev/relapse/harness/node/remote"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/vm"
	files "github.com/relapse-dev/relapse/vagrant"
)

// Provider makes Vagrant nodes.
type Provider struct{}

func init() { provision.Register(Provider{}) }

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

// run is one Vagrant node's host side.
type run struct {
	env     *scenario.Env
	dir     string
	netns   *engine.Netns
	vagrant []string // env for every vagrant command
	uri     string
}

func (p Provider) Provision(ctx context.Context, spec provision.Spec, env *scenario.Env) (node.Node, error) {
	if len(spec.Disks) > 0 {
		return nil, fmt.Errorf("the vagrant provider attaches no extra disks (%s wants %d); use PROVIDER=qemu", env.Report.Scenario, len(spec.Disks))
	}
	short := env.RunID[len(env.RunID)-6:]
	r := &run{env: env, dir: qemu.NodeDir(env.RunID, "v-")}
	forgetDir, err := env.Journal.Record("vagrant-dir", "local", map[string]string{"dir": r.dir})
	if err != nil {
		return nil, err
	}
	env.DeferCleanup("remove "+r.dir, func(ctx context.Context) error {
		if err := removeRunDir(r.dir); err != nil {
			return err
		}
		return forgetDir()
	})
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	key, err := vm.SSHKey(ctx, env.CacheDir)
	if err != nil {
		return nil, err
	}
	box, boxFact, kernel, err := r.ensureBox(ctx, spec)
	if err != nil {
		return nil, err
	}
	ns, deleteNS, err := engine.CreateNetns(ctx, local.New(), env.Journal, "relapse-vagrant-"+short)
	if err != nil {
		return nil, err
	}
	r.netns = ns
	env.DeferCleanup("delete network namespace "+ns.Name, deleteNS)
	if err := r.startLibvirt(ctx); err != nil {
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
	if err := os.WriteFile(filepath.Join(r.dir, "Vagrantfile"), files.Vagrantfile, 0o644); err != nil {
		return nil, err
	}
	r.vagrant = []string{"VAGRANT_HOME=" + vagrantHome(env.CacheDir), "VAGRANT_CWD=" + r.dir,
		"VAGRANT_DOTFILE_PATH=" + filepath.Join(r.dir, ".vagrant"), "VAGRANT_CHECKPOINT_DISABLE=1",
		"VAGRANT_BOX_UPDATE_CHECK_DISABLE=1", "VAGRANT_DEFAULT_PROVIDER=libvirt",
		"RELAPSE_BOX=" + box, "RELAPSE_SSH_KEY=" + key, "RELAPSE_LIBVIRT_URI=" + r.uri, "RELAPSE_POOL=relapse",
		"RELAPSE_LIBVIRT_DRIVER=" + driver, "RELAPSE_MEMORY=" + strconv.Itoa(mem), "RELAPSE_CPUS=" + strconv.Itoa(cpus)}
	env.DeferCleanup("vagrant destroy", func(ctx context.Context) error {
		_, err := r.vagrantCmd(ctx, 2*time.Minute, "destroy", "-f")
		return err
	})
	began := time.Now()
	env.Logf("vagrant up (box %s, libvirt driver %s) in %s", box, driver, r.dir)
	if err := env.Timed("vagrant up", box, func() error {
		_, err := r.vagrantCmd(ctx, UpTimeout, "up", "--provider=libvirt", "--no-provision")
		return err
	}); err != nil {
		return nil, err
	}
	upSeconds := time.Since(began).Seconds()
	cfg, err := r.sshConfig(ctx)
	if err != nil {
		return nil, err
	}
	cfg.NodeName, cfg.ProviderName = "vagrant-"+strings.TrimPrefix(strings.ReplaceAll(box, "/", "-"), "relapse-"), "vagrant"
	cfg.ControlDir, cfg.Via = filepath.Join(r.dir, "ssh"), ns.Wrap()
	cfg.Sudo = cfg.User != "root"
	if err := os.MkdirAll(cfg.ControlDir, 0o700); err != nil {
		return nil, err
	}
	n := remote.New(cfg)
	env.DeferCleanup("close ssh to the box", func(context.Context) error { return n.Close() })
	if err := n.WaitReady(ctx, time.Second); err != nil {
		return nil, err
	}
	agentBin, err := agent.Build(ctx, env.CacheDir)
	if err != nil {
		return nil, err
	}
	if err := n.CopyIn(ctx, agentBin, agent.NodePath, 0o755); err != nil {
		return nil, fmt.Errorf("copying the agent onto the box: %w", err)
	}
	env.Report.NodeSetup = append(env.Report.NodeSetup,
		report.Fact{Name: "provider", Value: "vagrant " + toolVersion(ctx, "vagrant", "--version") + " with vagrant-libvirt, libvirtd " + toolVersion(ctx, "libvirtd", "--version")},
		report.Fact{Name: "box", Value: boxFact},
		report.Fact{Name: "accelerator", Value: "libvirt driver " + driver + ": " + accel.Why},
		report.Fact{Name: "vagrant up", Value: fmt.Sprintf("%.1f s", upSeconds)},
		report.Fact{Name: "libvirt", Value: "private libvirtd/virtlogd in network namespace " + ns.Name + " and their own mount namespace; URI " + r.uri},
		report.Fact{Name: "bring the node up by hand", Value: "cd vagrant && VAGRANT_HOME=" + vagrantHome(env.CacheDir) + " RELAPSE_BOX=" + box + " RELAPSE_SSH_KEY=" + key +
			" RELAPSE_POOL=default vagrant up --provider=libvirt  # with the host's own libvirtd"},
		report.Fact{Name: "ssh into the node", Value: n.SSHCommand()},
	)
	return n, nil
}

// vagrantCmd runs the vagrant CLI inside the namespace, under a deadline.
func (r *run) vagrantCmd(ctx context.Context, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := r.netns.Wrap(append([]string{"vagrant"}, args...)...)
	// Everything vagrant says goes to a log the report keeps: a stuck
	// `vagrant up` says where it waits ("Waiting for domain to get an IP address").
	log := filepath.Join(r.dir, "vagrant.log")
	var stdout bytes.Buffer
	f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "\n$ vagrant %s\n", strings.Join(args, " "))
	cmd := local.New().Command(argv[0], argv[1:]...).SetEnv(r.vagrant...).SetDir(r.dir).
		SetStdout(io.MultiWriter(&stdout, f)).SetStderr(f)
	start := time.Now()
	err = cmd.Run(ctx)
	r.env.Step(report.Step{At: start.UTC(), Name: "vagrant " + args[0], Command: cmd.String(), Seconds: time.Since(start).Seconds(), Status: status(err)})
	if err != nil {
		if data, rerr := os.ReadFile(log); rerr == nil {
			r.env.Evidence("vagrant output (vagrant "+args[0]+" failed)", lastLines(string(data), 60))
		}
	}
	return stdout.Bytes(), err
}

// lastLines keeps the end of vagrant's output, without its progress meter
// (one line redrawn hundreds of times while a box image uploads).
func lastLines(s string, n int) string {
	progress := regexp.MustCompile(`(Progress: [0-9]+%[\r\x1b\[K]*)+`)
	s = progress.ReplaceAllString(s, "")
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func status(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// sshConfig reads how vagrant reaches the box.
func (r *run) sshConfig(ctx context.Context) (remote.Config, error) {
	out, err := r.vagrantCmd(ctx, time.Minute, "ssh-config")
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
