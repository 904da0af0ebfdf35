package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/node/remote"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// A booted snapshot is a node saved once, right after boot: its disk (a
// qcow2 over the root filesystem image, frozen) and its memory and device
// state (qemu's migration stream in a file). Later nodes of the same
// kernel, root filesystem, agent, qemu, accelerator and size start from it
// with a copy-on-write disk of their own, in seconds instead of a boot.
//
// Saved state is only valid for the same machine: the key holds everything
// that shapes it, and nodes with extra disks (a cluster's binaries) boot
// the usual way, because the disk set is part of the device state.

// snapshotLayout is bumped whenever what a snapshot holds changes.
const snapshotLayout = "3"

// snapshotEnv turns booted snapshots off (RELAPSE_QEMU_SNAPSHOT=0), e.g.
// to measure a cold boot.
const snapshotEnv = "RELAPSE_QEMU_SNAPSHOT"

type snapshot struct {
	Dir   string `json:"-"`
	Disk  string `json:"disk"`
	State string `json:"state"`
	Key   string `json:"key"`
	// BootSeconds and SaveSeconds are what making it cost.
	BootSeconds float64 `json:"boot_seconds"`
	SaveSeconds float64 `json:"save_seconds"`
	StateBytes  int64   `json:"state_bytes"`
	SavedAt     string  `json:"saved_at"`
	Cached      bool    `json:"-"`
}

// snapshotWanted says whether a node may start from a booted snapshot.
func snapshotWanted(spec provision.Spec) (bool, string) {
	if os.Getenv(snapshotEnv) == "0" {
		return false, snapshotEnv + "=0"
	}
	if len(spec.Disks) > 0 {
		return false, "the node has extra disks, which are part of the saved device state"
	}
	return true, ""
}

func snapshotKey(ctx context.Context, k vm.Kernel, r vm.Rootfs, accel Accel, agentBin string, mem, cpus int) (string, error) {
	agentSum, err := versions.FileSHA256(agentBin)
	if err != nil {
		return "", err
	}
	return vm.HashKey(snapshotLayout, k.Image, k.Initrd, k.ModulesDisk, r.Key, agentSum, qemuVersion(ctx), accel.Name,
		strconv.Itoa(mem), strconv.Itoa(cpus)), nil
}

// bootedSnapshot returns the snapshot for this machine, making it when
// there is none: one ordinary boot, the agent copied in, systemd settled,
// then the guest stopped and its state migrated to a file.
func bootedSnapshot(ctx context.Context, env *run.Run, k vm.Kernel, r vm.Rootfs, accel Accel, agentBin, key string, mem, cpus int) (snapshot, error) {
	skey, err := snapshotKey(ctx, k, r, accel, agentBin, mem, cpus)
	if err != nil {
		return snapshot{}, err
	}
	dir := filepath.Join(env.CacheDir, "vm", "snapshots", skey)
	built, err := vm.CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		env.Logf("saving a booted VM node for later nodes (%s, cached in %s)", k.Release, dir)
		// The disk lives at its final path from the start: the state and
		// later overlays name it.
		s := snapshot{Disk: filepath.Join(dir, "disk.qcow2"), State: filepath.Join(dir, "state.bin"), Key: skey}
		if err := saveSnapshot(ctx, env, k, r, accel, agentBin, key, mem, cpus, tmp, &s); err != nil {
			return err
		}
		s.SavedAt = time.Now().UTC().Format(time.RFC3339)
		return vm.WriteJSON(filepath.Join(tmp, "snapshot.json"), s)
	})
	if err != nil {
		return snapshot{}, fmt.Errorf("booted snapshot: %w", err)
	}
	var s snapshot
	if err := vm.ReadJSON(filepath.Join(dir, "snapshot.json"), &s); err != nil {
		return snapshot{}, err
	}
	s.Dir, s.Cached = dir, !built
	return s, nil
}

func saveSnapshot(ctx context.Context, env *run.Run, k vm.Kernel, r vm.Rootfs, accel Accel, agentBin, key string, mem, cpus int, tmp string, s *snapshot) error {
	disk := filepath.Join(tmp, "disk.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", r.Base, disk).CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-img create: %w\n%s", err, out)
	}
	nodeDir := NewNodeDir(env.ID, "s-")
	m := &machine{dir: nodeDir, name: "qemu-snapshot-" + k.Release}
	release, err := env.OwnLocal(ctx, "destroy VM node "+m.name, "qemu-node", map[string]string{"dir": nodeDir}, nil, m.destroy)
	if err != nil {
		return err
	}
	defer func() { _ = release(context.WithoutCancel(ctx)) }()
	if err := MakeNodeDir(nodeDir); err != nil {
		return err
	}
	knownHosts, err := PinHostKeys(nodeDir, r)
	if err != nil {
		return err
	}
	booted := time.Now()
	port, err := m.startForwarded(ctx, qemuArgs(k, accel, disk, nodeDir, mem, cpus, nil), nil)
	if err != nil {
		return err
	}
	n := remote.New(remote.Config{NodeName: m.name, ProviderName: "qemu", Host: "127.0.0.1", Port: port,
		KeyFile: key, ControlDir: filepath.Join(nodeDir, "ssh"), KnownHosts: knownHosts, HostKeyAlias: HostKeyAlias})
	m.ssh = n
	bctx, cancel := context.WithTimeout(ctx, BootTimeout)
	err = m.waitSSH(bctx, n)
	cancel()
	if err != nil {
		return fmt.Errorf("booting the node to save: %w\n%s", err, m.console())
	}
	if err := n.CopyIn(ctx, agentBin, agent.NodePath, 0o755); err != nil {
		return err
	}
	_ = waitSystemd(ctx, n)
	// Everything written so far reaches the disk the snapshot keeps.
	if err := n.Command("sync").Run(ctx); err != nil {
		return err
	}
	s.BootSeconds = time.Since(booted).Seconds()
	// No ssh connection may be open in the saved state: the next node's
	// client would not know it.
	_ = n.Close()
	saving := time.Now()
	if err := migrateToFile(ctx, monitorPath(nodeDir), filepath.Join(tmp, "state.bin")); err != nil {
		return err
	}
	s.SaveSeconds = time.Since(saving).Seconds()
	if st, err := os.Stat(filepath.Join(tmp, "state.bin")); err == nil {
		s.StateBytes = st.Size()
	}
	return nil
}

// stateFD is the name the saved state's descriptor has in qemu's monitor.
const stateFD = "relapse-state"

// migrateToFile writes the guest's state to path through the human
// monitor, then ends qemu. qemu gets the open file itself (getfd, the
// descriptor passed over the monitor's socket): no shell and no path on
// a command line it would parse.
func migrateToFile(ctx context.Context, socket, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("the file for the VM's state: %w", err)
	}
	defer f.Close()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	mon, err := dialMonitor(dctx, socket)
	cancel()
	if err != nil {
		return err
	}
	defer mon.conn.Close()
	if out, err := mon.sendFile("getfd "+stateFD, f); err != nil || strings.Contains(out, "rror") {
		return fmt.Errorf("qemu monitor getfd %s (%s): %v %s", stateFD, path, err, out)
	}
	// Migrated while running: the stream records the run state, and a
	// guest stopped first would be restored stopped. qemu stops it itself
	// for the last pass, with its disk flushed.
	cmd := "migrate fd:" + stateFD
	if out, err := mon.send(cmd); err != nil || strings.Contains(out, "rror") {
		return fmt.Errorf("qemu monitor %q: %v %s", cmd, err, out)
	}
	// Saving is bounded by how much memory the guest touched (hundreds of
	// MB at most here); three minutes is far beyond it and only a guard.
	var out string
	err = poll.Within(ctx, 3*time.Minute, 200*time.Millisecond, func(context.Context) (bool, error) {
		var err error
		if out, err = mon.send("info migrate"); err != nil {
			return false, err
		}
		switch {
		case strings.Contains(out, "Migration status: completed"):
			return true, nil
		case strings.Contains(out, "Migration status: failed"), strings.Contains(out, "Migration status: cancelled"):
			return false, fmt.Errorf("saving the VM's state failed: %s", out)
		}
		return false, nil
	})
	switch {
	case err == nil:
		_, _ = mon.send("quit")
		return nil
	case errors.Is(err, poll.ErrDeadline), ctx.Err() != nil:
		return fmt.Errorf("saving the VM's state did not complete (%w): %s", err, out)
	default:
		return err
	}
}

func readUntilPrompt(rd *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		c, err := rd.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
		if strings.HasSuffix(b.String(), "(qemu) ") {
			return b.String(), nil
		}
	}
}

// restoreArgs start a node from the snapshot: the same machine with the
// node's own overlay on the frozen disk, and its state read at start from
// descriptor 3 (the caller passes the open state file; no shell reads it).
func restoreArgs(args []string) []string {
	return append(args, "-incoming", "fd:3")
}

func monitorPath(dir string) string { return filepath.Join(dir, "monitor.sock") }

// waitRunning waits until a restored guest runs again. Until then qemu's
// user network accepts connections to the forwarded port that nothing
// answers, and an ssh attempt would spend its whole connect timeout.
func waitRunning(ctx context.Context, dir string) error {
	mon, err := dialMonitor(ctx, monitorPath(dir))
	if err != nil {
		return err
	}
	defer mon.conn.Close()
	var out string
	err = poll.Until(ctx, 100*time.Millisecond, func(context.Context) (bool, error) {
		var err error
		if out, err = mon.send("info status"); err != nil {
			return false, err
		}
		return strings.Contains(out, "VM status: running"), nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("the restored node did not run: %s", strings.TrimSpace(out))
	}
	return err
}

// dialMonitor connects to qemu's human monitor at socket and reads its
// greeting, retrying while qemu has not made the socket yet, until ctx ends.
func dialMonitor(ctx context.Context, socket string) (monitor, error) {
	var mon monitor
	var dialErr error
	err := poll.Until(ctx, 50*time.Millisecond, func(context.Context) (bool, error) {
		var conn net.Conn
		if conn, dialErr = net.DialTimeout("unix", socket, time.Second); dialErr != nil {
			return false, nil
		}
		mon = monitor{conn: conn, rd: bufio.NewReader(conn)}
		if _, err := mon.greeting(); err != nil {
			conn.Close()
			return false, err
		}
		return true, nil
	})
	if err != nil && dialErr != nil && ctx.Err() != nil {
		return monitor{}, fmt.Errorf("qemu monitor %s: %w", socket, dialErr)
	}
	if err != nil {
		return monitor{}, err
	}
	return mon, nil
}

// monitor is a connection to qemu's human monitor.
type monitor struct {
	conn net.Conn
	rd   *bufio.Reader
}

func (m monitor) greeting() (string, error) {
	_ = m.conn.SetDeadline(time.Now().Add(30 * time.Second))
	out, err := readUntilPrompt(m.rd)
	if err != nil {
		return out, fmt.Errorf("qemu monitor greeting: %w", err)
	}
	return out, nil
}

func (m monitor) send(cmd string) (string, error) {
	_ = m.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(m.conn, "%s\n", cmd); err != nil {
		return "", err
	}
	return readUntilPrompt(m.rd)
}

// sendFile sends cmd with f's descriptor alongside (SCM_RIGHTS), as the
// monitor's getfd wants it.
func (m monitor) sendFile(cmd string, f *os.File) (string, error) {
	uc, ok := m.conn.(*net.UnixConn)
	if !ok {
		return "", fmt.Errorf("qemu monitor: passing a descriptor needs a unix socket, not %T", m.conn)
	}
	_ = m.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := uc.WriteMsgUnix([]byte(cmd+"\n"), syscall.UnixRights(int(f.Fd())), nil); err != nil {
		return "", fmt.Errorf("qemu monitor %q: %w", cmd, err)
	}
	return readUntilPrompt(m.rd)
}

// resetClock sets the guest's clock to the host's: a restored guest wakes
// at the time it was saved.
func resetClock(ctx context.Context, n *remote.Node) error {
	now := time.Now()
	return n.Command("date", "-s", fmt.Sprintf("@%d.%09d", now.Unix(), now.Nanosecond())).Run(ctx)
}
