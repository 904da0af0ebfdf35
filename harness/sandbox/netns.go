package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/run"
)

// Netns is a named network namespace relapse made for its daemons, so that
// dockerd's and containerd's network setup (ip_forward, iptables, bridges)
// happens there and never on the host.
type Netns struct {
	Node node.Node
	Name string
}

// NewNetns creates a network namespace with loopback up on the run's
// node, owned by the run: journaled first, deleted (with every process
// still in it) by a cleanup.
func NewNetns(ctx context.Context, r *run.Run, name string) (*Netns, error) {
	// Checked before it is made: the repairer refuses any other name.
	if err := run.CheckName("make the network namespace", name); err != nil {
		return nil, err
	}
	ns := &Netns{Node: r.Node, Name: name}
	_, err := r.Own(ctx, "delete network namespace "+name, "netns", map[string]string{"name": name}, ns.create, ns.delete)
	if err != nil {
		return nil, err
	}
	return ns, nil
}

func (ns *Netns) create(ctx context.Context) error {
	if err := ns.Node.Command("ip", "netns", "add", ns.Name).Run(ctx); err != nil {
		return fmt.Errorf("creating network namespace: %w", err)
	}
	return ns.Node.Command("ip", "-n", ns.Name, "link", "set", "lo", "up").Run(ctx)
}

func (ns *Netns) delete(ctx context.Context) error {
	// Every path that deletes (the run's cleanup and the repairer) passes
	// here, so the name is checked here and not only where it was made.
	if err := run.CheckName("delete the network namespace", ns.Name); err != nil {
		return err
	}
	if ns.Node.Command("ip", "netns", "pids", ns.Name).Run(ctx) != nil {
		// Gone already (or never made: create failed before `ip netns add`).
		return nil
	}
	if err := ns.KillMembers(ctx); err != nil {
		return err
	}
	return ns.Node.Command("ip", "netns", "delete", ns.Name).Run(ctx)
}

// KillMembers SIGKILLs every process living in the namespace, so nothing
// keeps it (and what a daemon set up in it) alive after its daemon is gone.
func (ns *Netns) KillMembers(ctx context.Context) error {
	// `ip netns pids` reads /proc/*/ns/net: it finds daemonised children too.
	var pids []string
	// Generous: a SIGKILLed process in uninterruptible sleep on a loaded
	// machine can take seconds to go.
	err := poll.Within(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, err := ns.Node.Command("ip", "netns", "pids", ns.Name).Output(ctx)
		if err != nil {
			return false, err
		}
		pids = strings.Fields(string(out))
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				_ = ns.Node.Kill(ctx, pid, int(syscall.SIGKILL))
			}
		}
		return len(pids) == 0, nil
	})
	if errors.Is(err, poll.ErrDeadline) {
		return fmt.Errorf("processes in network namespace %s survive SIGKILL after 30 s: %v", ns.Name, pids)
	}
	return err
}

// Wrap prefixes argv so it runs inside the namespace. nsenter, not
// `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts the
// engines need ("Devices cgroup isn't mounted").
func (ns *Netns) Wrap(argv ...string) []string {
	return append([]string{"nsenter", "--net=/run/netns/" + ns.Name, "--"}, argv...)
}

func init() {
	run.RegisterLocalRepairer("netns", func(ctx context.Context, e run.Entry) (string, error) {
		ns := &Netns{Node: local.New(), Name: e.Data["name"]}
		if err := ns.delete(ctx); err != nil {
			return "", err
		}
		return "deleted network namespace " + ns.Name, nil
	})
}

// DialContext opens a connection from inside the namespace: on the local
// node the dialing thread enters it, dials, and comes back (the socket
// stays there); on a VM node the node's agent dials from inside it.
func (ns *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if ns.Node.Provider() != "local" {
		// A namespace on a VM node: relayed by the node's agent over ssh.
		return agent.Dial(ctx, ns.Node, ns.Wrap(), network, addr)
	}
	return DialIn("/run/netns/"+ns.Name)(ctx, network, addr)
}

// DialIn is a dialer for the network namespace at nsPath (a bind mount
// under /run/netns, or /proc/PID/ns/net of a container's process).
func DialIn(nsPath string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialIn(ctx, nsPath, network, addr)
	}
}

func dialIn(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, tainted, err := dialFromThread(ctx, nsPath, network, addr)
		done <- result{conn, err}
		if tainted {
			// The thread is stuck in the other namespace and may never run
			// anything else; letting the goroutine end would end the thread,
			// and the kernel would kill every child started from it with
			// Pdeathsig (engines, qemu). Park it instead: a thread lost for
			// the life of the process, in a case that should never happen.
			select {}
		}
	}()
	r := <-done
	return r.conn, r.err
}

// dialFromThread dials from inside the namespace at nsPath on a locked OS
// thread and brings the thread back. It unlocks the thread on every return
// but one: when returning to the host's namespace failed (tainted), the
// thread stays locked so no other goroutine runs in the wrong namespace.
func dialFromThread(ctx context.Context, nsPath, network, addr string) (conn net.Conn, tainted bool, err error) {
	runtime.LockOSThread()
	defer func() {
		if !tainted {
			runtime.UnlockOSThread()
		}
	}()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, false, fmt.Errorf("opening this thread's network namespace: %w", err)
	}
	defer home.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		return nil, false, fmt.Errorf("opening network namespace %s: %w", nsPath, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		// setns failed: the thread is still in its own namespace.
		return nil, false, fmt.Errorf("entering netns %s: %w", nsPath, err)
	}
	var d net.Dialer
	conn, err = d.DialContext(ctx, network, addr)
	if berr := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); berr != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, true, fmt.Errorf("returning from netns %s to the host's: %w", nsPath, berr)
	}
	return conn, false, err
}
