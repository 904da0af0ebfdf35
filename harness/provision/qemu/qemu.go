package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/node/remote"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/privdir"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// Provider makes qemu VM nodes.
type Provider struct{}

func (Provider) Name() string { return "qemu" }
func (Provider) Describe() string {
	return "a disposable qemu VM with a chosen Debian kernel (KERNEL=6.1.0-50, 6.12.117+deb12, a bzImage) and systemd as PID 1"
}

// BootTimeout bounds boot-to-first-command; emulation on a loaded 2-core
// host measured 24-41 s.
var BootTimeout = 4 * time.Minute

func (Provider) Check(ctx context.Context, spec provision.Spec) error {
	if spec.Box != "" {
		return fmt.Errorf("BOX=%s is for PROVIDER=vagrant; the qemu provider boots relapse's own root filesystem with KERNEL", spec.Box)
	}
	// The kernel first: a typo is the user's to fix whatever is installed.
	k, err := vm.ParseKernel(spec.Kernel, spec.KernelModules)
	if err != nil {
		return err
	}
	if err := k.Resolve(ctx); err != nil {
		return err
	}
	if k.Source != "" {
		if err := kernelRequest(k, spec).Check(); err != nil {
			return err
		}
	} else if len(spec.KernelPatches) > 0 {
		return fmt.Errorf("--patch linux=... needs KERNEL=%s<Debian version> (e.g. %s6.1.176-1): the patch goes into a build from Debian source", vm.SourcePrefix, vm.SourcePrefix)
	}
	if _, _, err := systemdRequest(spec); err != nil {
		return err
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return fmt.Errorf("PROVIDER=qemu needs qemu-system-x86_64 (Debian package qemu-system-x86); run `make deps-vm`")
	}
	return nil
}

// VMRoot holds each VM node's host-side directory (overlay disk, serial
// log, ssh control socket, agent socket, qemu monitor): privdir.Root()/vm,
// private to root like run directories. Short: the ssh control socket
// lives below it.
func VMRoot() string { return filepath.Join(privdir.Root(), vmRootName) }

// vmRootName is VMRoot's name in privdir's root.
const vmRootName = "vm"

// legacyVMRoot is where VM directories were before they became private;
// journal entries of runs killed then still name it.
var legacyVMRoot = filepath.Join(os.TempDir(), "relapse-vm")

// NewNodeDir names the host-side directory of a run's VM node: prefix
// ("" for qemu, "s-" for a snapshot's boot, "v-" for vagrant), the run's
// short ID and a random suffix, in VMRoot. It makes nothing, so the run
// journals the path before MakeNodeDir makes it.
func NewNodeDir(runID, prefix string) string {
	return privdir.NewName(VMRoot(), prefix+run.ShortID(runID)+"-")
}

// MakeNodeDir makes dir (from NewNodeDir) new and private in a private
// VMRoot, with its private ssh directory.
func MakeNodeDir(dir string) error {
	parent, err := privdir.Under(vmRootName)
	if err != nil {
		return fmt.Errorf("VM node directories: %w", err)
	}
	if _, err := run.CheckChild("make the VM node directory", dir, parent); err != nil {
		return err
	}
	if err := privdir.Mkdir(dir); err != nil {
		return fmt.Errorf("VM node directory: %w", err)
	}
	return os.Mkdir(filepath.Join(dir, "ssh"), 0o700)
}

func (p Provider) Provision(ctx context.Context, spec provision.Spec, env *run.Run) (node.Node, error) {
	ks, err := vm.ParseKernel(spec.Kernel, spec.KernelModules)
	if err != nil {
		return nil, err
	}
	systemdReq, systemdFromSource, err := systemdRequest(spec)
	if err != nil {
		return nil, err
	}
	var builtFacts []report.Fact
	if ks.Source != "" {
		if ks, builtFacts, err = buildKernel(ctx, env, ks, spec); err != nil {
			return nil, err
		}
	}
	var kernel vm.Kernel
	var rootfs vm.Rootfs
	var agentBin string
	if err := env.Timed("prepare VM images", ks.String(), func() error {
		if kernel, err = vm.FetchKernel(ctx, env.CacheDir, ks, env.Logf); err != nil {
			return err
		}
		if rootfs, err = vm.BuildRootfs(ctx, env.CacheDir, env.Logf); err != nil {
			return err
		}
		agentBin, err = agent.Build(ctx, env.CacheDir)
		return err
	}); err != nil {
		return nil, err
	}
	if systemdFromSource {
		var facts []report.Fact
		if rootfs, facts, err = systemdVariant(ctx, env, systemdReq, rootfs); err != nil {
			return nil, err
		}
		builtFacts = append(builtFacts, facts...)
	}
	key, err := vm.SSHKey(ctx, env.CacheDir)
	if err != nil {
		return nil, err
	}
	accel := ChooseAccel(kernel)
	mem, cpus := orDefault(spec.MemoryMiB, 1536), orDefault(spec.CPUs, 2)
	name := "qemu-" + kernel.Release
	dir := NewNodeDir(env.ID, "")
	m := &machine{dir: dir, name: name}
	if _, err := env.OwnLocal(ctx, "destroy VM node "+name, "qemu-node", map[string]string{"dir": dir}, nil, m.destroy); err != nil {
		return nil, err
	}
	if err := MakeNodeDir(dir); err != nil {
		return nil, err
	}
	knownHosts, err := PinHostKeys(dir, rootfs)
	if err != nil {
		return nil, err
	}
	var snap *snapshot
	snapshotNote := ""
	if ok, why := snapshotWanted(spec); ok {
		var sn snapshot
		err := env.Timed("booted VM snapshot", kernel.Release, func() error {
			var err error
			sn, err = bootedSnapshot(ctx, env, kernel, rootfs, accel, agentBin, key, mem, cpus)
			return err
		})
		if err != nil {
			// A snapshot is an optimisation: say why it failed and boot.
			env.Error("booted snapshot not used: " + err.Error())
			snapshotNote = "booted (snapshot failed: " + textutil.FirstLine(err.Error()) + ")"
		} else {
			snap = &sn
		}
	} else {
		snapshotNote = "booted (no snapshot: " + why + ")"
	}
	backing := rootfs.Base
	if snap != nil {
		backing = snap.Disk
	}
	overlay := filepath.Join(dir, "node.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, overlay).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("qemu-img create overlay: %w\n%s", err, out)
	}
	args := qemuArgs(kernel, accel, overlay, dir, mem, cpus, spec.Disks)
	var state *os.File
	if snap != nil {
		args = restoreArgs(args)
		if state, err = os.Open(snap.State); err != nil {
			return nil, fmt.Errorf("opening the booted snapshot's state: %w", err)
		}
		defer state.Close()
		snapshotNote = fmt.Sprintf("restored from booted snapshot %s (%s; boot it saved %.1f s, state %d MB, saved in %.1f s)",
			snap.Key, cachedOrBuilt(snap.Cached, snap.BootSeconds+snap.SaveSeconds, "snapshot"), snap.BootSeconds, snap.StateBytes>>20, snap.SaveSeconds)
	}
	env.Logf("starting VM node %s (%s, %d MiB, %d vCPUs; %s)", name, accel.Name, mem, cpus, snapshotNote)
	booted := time.Now()
	port, err := m.startForwarded(ctx, args, state)
	if err != nil {
		return nil, err
	}
	env.Logf("VM node %s: its ssh is forwarded from 127.0.0.1:%d", name, port)
	n := remote.New(remote.Config{NodeName: name, ProviderName: "qemu", Host: "127.0.0.1", Port: port,
		KeyFile: key, ControlDir: filepath.Join(dir, "ssh"), KnownHosts: knownHosts, HostKeyAlias: HostKeyAlias})
	m.ssh = n
	bctx, cancel := context.WithTimeout(ctx, BootTimeout)
	err = env.Timed("boot VM node", name, func() error {
		if snap != nil {
			if err := waitRunning(bctx, dir); err != nil {
				return err
			}
		}
		return m.waitSSH(bctx, n)
	})
	cancel()
	if err != nil {
		env.Evidence("serial console of "+name+" (boot did not finish)", m.console())
		return nil, err
	}
	bootSeconds := time.Since(booted).Seconds()
	env.Logf("VM node %s answers over ssh after %.1f s", name, bootSeconds)
	if snap != nil {
		// The agent is in the saved disk; the clock is the save's.
		if err := resetClock(ctx, n); err != nil {
			return nil, fmt.Errorf("setting the clock of %s after restore: %w", name, err)
		}
	} else if err := n.CopyIn(ctx, agentBin, agent.NodePath, 0o755); err != nil {
		return nil, fmt.Errorf("copying the agent onto %s: %w", name, err)
	}
	calls := serveCalls(ctx, env, n)
	systemd := waitSystemd(ctx, n)
	disks, err := mountDisks(ctx, n, spec.Disks)
	if err != nil {
		return nil, err
	}
	setup := []report.Fact{
		{Name: "provider", Value: "qemu " + qemuVersion(ctx)},
		{Name: "accelerator", Value: accel.Name + ": " + accel.Why},
		{Name: "guest kernel", Value: kernelFact(kernel)},
		{Name: "initramfs", Value: initramfsFact(kernel)},
		{Name: "root filesystem", Value: rootfsFact(rootfs)},
		{Name: "images", Value: cachedOrBuilt(kernel.Cached, kernel.BuildSeconds, "kernel") + "; " + cachedOrBuilt(rootfs.Cached, rootfs.BuildSeconds, "root filesystem")},
		{Name: "boot to first command", Value: fmt.Sprintf("%.1f s", bootSeconds)},
		{Name: "node start", Value: snapshotNote},
		{Name: "systemd state at start", Value: systemd},
		{Name: "calls into the node", Value: calls},
		{Name: "qemu command", Value: qemuCommand(args, snap)},
		{Name: "ssh into the node", Value: n.SSHCommand()},
	}
	setup = append(setup, builtFacts...)
	setup = append(setup, disks...)
	env.NodeFact(setup...)
	return n, nil
}

// servedEnv turns the agent's server off (RELAPSE_AGENT_SERVER=0), e.g.
// to measure what it saves.
const servedEnv = "RELAPSE_AGENT_SERVER"

// serveCalls has the node's short calls go through the agent's server
// instead of an ssh session each (under emulation a session costs
// 0.15-0.4 s before the command runs) and says which way they go; the
// server is an optimisation, so a failure leaves the calls on ssh.
func serveCalls(ctx context.Context, env *run.Run, n *remote.Node) string {
	if os.Getenv(servedEnv) == "0" {
		return "an ssh session each (" + servedEnv + "=0)"
	}
	if err := n.Serve(ctx); err != nil {
		env.Error("agent server not used: " + err.Error())
		return "an ssh session each (the agent's server did not start: " + textutil.FirstLine(err.Error()) + ")"
	}
	return "file reads and writes, short commands and /proc questions through the agent's server (" + agent.ServePath +
		", forwarded over the ssh master); commands that run alongside in ssh sessions of their own"
}

// mountDisks mounts the scenario's disks (vdc onwards) read-only.
func mountDisks(ctx context.Context, n node.Node, disks []provision.NodeDisk) ([]report.Fact, error) {
	var facts []report.Fact
	for i, d := range disks {
		dev := "/dev/vd" + string(rune('c'+i))
		if err := n.Command("sh", "-c", `mkdir -p "$2" && mount -t ext4 -o ro "$1" "$2"`, "mount", dev, d.MountPoint).Run(ctx); err != nil {
			return nil, fmt.Errorf("mounting the %s disk on %s: %w", d.What, n.Name(), err)
		}
		facts = append(facts, report.Fact{Name: "disk " + dev, Value: fmt.Sprintf("%s: %s, read-only on %s", d.What, d.Image, d.MountPoint)})
	}
	return facts, nil
}

// qemuArgs is the command line of a node.
func qemuArgs(k vm.Kernel, accel Accel, overlay, dir string, mem, cpus int, disks []provision.NodeDisk) []string {
	args := []string{"-name", "relapse-" + filepath.Base(dir), "-nodefaults", "-no-user-config"}
	args = append(args, accel.Args()...)
	args = append(args,
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus), "-display", "none", "-no-reboot",
		"-kernel", k.Image)
	if k.Initrd != "" {
		args = append(args, "-initrd", k.Initrd)
	}
	args = append(args,
		"-append", "console=ttyS0 root=/dev/vda rw quiet panic=-1 mitigations=off systemd.show_status=0",
		"-drive", "file="+overlay+",if=virtio,format=qcow2,cache=unsafe",
		"-drive", "file="+k.ModulesDisk+",if=virtio,format=raw,readonly=on",
	)
	args = append(args, sshForwardArgs()...)
	args = append(args, "-device", "virtio-rng-pci")
	args = append(args, hostSideArgs(dir)...)
	// The scenario's disks come after the root and the modules: vdc, vdd, ...
	for _, d := range disks {
		args = append(args, "-drive", "file="+d.Image+",if=virtio,format=raw,readonly=on")
	}
	return args
}

// qemuCommand is the node's qemu command line as a shell line to paste;
// a restored node reads its state on descriptor 3, so the line opens the
// state file there.
func qemuCommand(args []string, snap *snapshot) string {
	line := textutil.ShellQuote(append([]string{"qemu-system-x86_64"}, args...)...)
	if snap != nil {
		line += " 3<" + textutil.ShellQuote(snap.State)
	}
	return line
}

// sshForwardArgs give the guest a NIC on qemu's user network with its ssh
// forwarded from host port 0, which the kernel turns into a free port as
// qemu binds it (see startForwarded).
func sshForwardArgs() []string {
	return []string{"-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:0-:22", "-device", "virtio-net-pci,netdev=n0"}
}

// hostSideArgs put the node's console, pid and monitor in its directory.
func hostSideArgs(dir string) []string {
	return []string{"-serial", "file:" + filepath.Join(dir, "console.log"), "-pidfile", filepath.Join(dir, "qemu.pid"),
		"-monitor", "unix:" + monitorPath(dir) + ",server,nowait"}
}

// machine is the host side of one VM: the qemu process and its directory.
type machine struct {
	dir, name string
	cmd       *exec.Cmd
	exited    chan error
	ssh       *remote.Node
}

// start starts qemu with args; files become its descriptors 3, 4, ...
func (m *machine) start(args []string, files ...*os.File) error {
	m.cmd = exec.Command("qemu-system-x86_64", args...)
	m.cmd.ExtraFiles = files
	log, err := os.Create(filepath.Join(m.dir, "qemu.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	m.cmd.Stdout, m.cmd.Stderr = log, log
	// If relapse dies, so does its VM; the journal entry removes the rest.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("starting qemu: %w", err)
	}
	m.exited = make(chan error, 1)
	go func() { m.exited <- m.cmd.Wait() }()
	return nil
}

// waitSSH waits for sshd in the guest, failing early when qemu exits.
func (m *machine) waitSSH(ctx context.Context, n *remote.Node) error {
	return m.untilExit(ctx, func(ctx context.Context) error { return n.WaitReady(ctx, time.Second) })
}

// untilExit runs fn, failing early with qemu's log when qemu exits.
func (m *machine) untilExit(ctx context.Context, fn func(context.Context) error) error {
	ready := make(chan error, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { ready <- fn(wctx) }()
	select {
	case err := <-ready:
		return err
	case err := <-m.exited:
		m.exited <- err
		qlog, _ := os.ReadFile(filepath.Join(m.dir, "qemu.log"))
		return fmt.Errorf("qemu exited during boot (%v): %s", err, strings.TrimSpace(string(qlog)))
	}
}

func (m *machine) console() string {
	data, _ := os.ReadFile(filepath.Join(m.dir, "console.log"))
	s := string(data)
	if len(s) > 8000 {
		s = "...\n" + s[len(s)-8000:]
	}
	return s
}

// destroy stops the VM (there is nothing in it worth a clean shutdown) and
// removes its directory.
func (m *machine) destroy(ctx context.Context) error {
	if m.ssh != nil {
		_ = m.ssh.Close()
	}
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-m.exited:
			case <-ctx.Done():
				return fmt.Errorf("qemu (pid %d) did not exit after SIGKILL", m.cmd.Process.Pid)
			}
		}
	}
	return RemoveNodeDir(ctx, m.dir)
}

// RemoveNodeDir kills whatever still names the directory (qemu of a killed
// run, an ssh master) and removes it. It removes nothing but a directory
// in VMRoot, and only while VMRoot is private, so that nobody can have
// swapped a path in it for a link to elsewhere.
func RemoveNodeDir(ctx context.Context, dir string) error {
	clean, err := run.CheckChild("remove the VM node directory", dir, VMRoot())
	if err != nil {
		return err
	}
	if err := killNaming(ctx, clean); err != nil {
		return err
	}
	return privdir.RemoveBelow(VMRoot(), clean)
}

// RepairNodeDir is RemoveNodeDir for a killed run's journal entry. A
// directory in the shared place older relapse versions used is left
// alone once its processes are gone: removing it as root is not safe.
func RepairNodeDir(ctx context.Context, dir string) (string, error) {
	if run.IsLegacyDir(dir, legacyVMRoot) {
		if err := killNaming(ctx, filepath.Clean(dir)); err != nil {
			return "", err
		}
		return "stopped what still named " + dir + "; " + run.LegacyNote(dir), nil
	}
	if err := RemoveNodeDir(ctx, dir); err != nil {
		return "", err
	}
	return "removed " + dir, nil
}

// killNaming SIGKILLs every host process whose command line names dir and
// waits for them to go.
func killNaming(ctx context.Context, dir string) error {
	var pids []int
	err := poll.Within(ctx, 10*time.Second, 100*time.Millisecond, func(context.Context) (bool, error) {
		pids = processesNaming(dir)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return len(pids) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("processes naming %s survive SIGKILL (%w): %v", dir, err, pids)
	}
	return nil
}

func processesNaming(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		// Zombies have an empty command line and are not ours to kill.
		if strings.Contains(string(cmdline), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A VM node's directory is one of relapse's trees: a Vagrant node's
// libvirtd runs in it, and repair may kill what names it.
func init() { run.RegisterTree(VMRoot) }

// Repairers stop a killed run's VM and remove its directory.
func (Provider) Repairers() map[string]run.Repairer {
	return map[string]run.Repairer{"qemu-node": run.LocalOnly(func(ctx context.Context, e run.Entry) (string, error) {
		note, err := RepairNodeDir(ctx, e.Data["dir"])
		if err != nil {
			return "", err
		}
		return "stopped the VM node of run " + e.RunID + "; " + note, nil
	})}
}

// waitSystemd waits (bounded) for the guest's boot to settle and returns
// systemd's view: "running", or "degraded" with the failed units.
func waitSystemd(ctx context.Context, n node.Node) string {
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	out, _ := n.Command("systemctl", "is-system-running", "--wait").Output(wctx)
	state := strings.TrimSpace(string(out))
	if state == "" {
		state = "unknown (systemctl is-system-running did not answer in 90 s)"
	}
	if state == "degraded" {
		if failed, err := n.Command("systemctl", "--failed", "--no-legend", "--plain").Output(ctx); err == nil {
			state += ": " + strings.Join(strings.Fields(string(failed)), " ")
		}
	}
	return state
}

func qemuVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "qemu-system-x86_64", "--version").Output()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(first), "QEMU emulator ")
}

func initramfsFact(k vm.Kernel) string {
	if k.Initrd == "" {
		return "none: every driver the node needs is built into the kernel"
	}
	return "relapse's busybox initramfs with " + strings.Join(k.InitrdModules, " ")
}

func rootfsFact(r vm.Rootfs) string {
	s := fmt.Sprintf("debootstrap %s minbase + %s (image %s; systemd %s, libseccomp2 %s)",
		r.Suite, strings.Join(r.Packages, ","), r.Key, r.Versions["systemd"], r.Versions["libseccomp2"])
	if r.Variant != "" {
		s += "; variant: " + r.Variant + " installed over the base's packages"
	}
	return s
}

func kernelFact(k vm.Kernel) string {
	if k.Spec.Source != "" {
		sum, _ := versions.FileSHA256(k.Image)
		return fmt.Sprintf("%s (%s built by relapse, bzImage sha256 %s, config %s)", k.Release, k.Spec, sum, k.Spec.BuiltConfig)
	}
	if k.Spec.Image != "" {
		return fmt.Sprintf("%s (user's bzImage %s, modules %s)", k.Release, k.Spec.Image, k.Spec.Modules)
	}
	return fmt.Sprintf("%s (Debian %s %s, .deb sha256 %s)", k.Release, k.Spec.Package(), k.PackageVersion, k.DebSHA256)
}

func cachedOrBuilt(cached bool, seconds float64, what string) string {
	if cached {
		return what + " from cache"
	}
	return fmt.Sprintf("%s built in %.1f s", what, seconds)
}

func orDefault(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

// Missing names what the qemu provider needs of this machine: root, to
// unpack kernels and make the initramfs's device node.
func (Provider) Missing() []string {
	if os.Geteuid() != 0 {
		return []string{"root (euid 0): unpacking kernels and building the initramfs need it; run with sudo"}
	}
	return nil
}
