package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/privdir"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// Daemon is an engine daemon (dockerd, containerd) relapse runs for one
// experiment. Everything it owns lives under Dir; it runs in its own
// network namespace and its own mount namespace, so its mounts and network
// setup never reach the host and vanish with its processes.
type Daemon struct {
	Node node.Node
	Name string
	// Dir holds the daemon's root, state, sockets and log; every process
	// the daemon starts names a path under it, which is how leftovers are found.
	Dir    string
	Argv   []string
	Env    []string
	Netns  *Netns
	Socket string
	// Log is the daemon's stdout and stderr.
	Log string
	// Prelude is shell run inside the daemon's mount namespace before it
	// execs: more private mounts (libvirt's state directories).
	Prelude string
	// Ready, when set, replaces waiting for Socket: a daemon that serves
	// TCP inside its namespace (etcd, kube-apiserver) says so its own way.
	Ready func(ctx context.Context) error
	proc  node.Process
}

// Start journals the daemon, starts it and waits for its socket. The
// daemon is bound to ctx only through its parent-death signal: stop it with
// Stop.
func (d *Daemon) Start(ctx context.Context, j *run.Journal, ready time.Duration) (stop func(context.Context) error, err error) {
	// Checked before it starts: stopping it kills what names Dir, which
	// KillUnder allows only inside a run's directory.
	if _, err := run.RunTarget("run a daemon in", d.Dir); err != nil {
		return nil, err
	}
	stop, err = j.Own("daemon", d.Node.Name(), map[string]string{"name": d.Name, "dir": d.Dir}, d.stop)
	if err != nil {
		return nil, err
	}
	argv := append([]string{"unshare", "--mount", "--propagation", "private", "--", "sh", "-c", privateRunAndOpt(privdir.Root()) + d.Prelude + "\nexec \"$@\"", "sh"}, d.Argv...)
	if d.Netns != nil {
		argv = d.Netns.Wrap(argv...)
	}
	cmd := d.Node.Command(argv[0], argv[1:]...).SetEnv(d.Env...).SetOutputFile(d.Log)
	// The daemon outlives this call: its context is the process's, not ctx.
	d.proc, err = cmd.Start(context.WithoutCancel(ctx))
	if err != nil {
		_ = stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("starting %s: %w", d.Name, err)
	}
	wait := func() error { return waitSocket(ctx, d.Node, d.Socket, ready) }
	if d.Ready != nil {
		wait = func() error { return pollReady(ctx, d.Ready, ready) }
	}
	if err := wait(); err != nil {
		tail := d.LogTail(ctx, 30)
		_ = stop(context.WithoutCancel(ctx))
		what := "open " + d.Socket
		if d.Ready != nil {
			what = "become ready"
		}
		return nil, fmt.Errorf("%s did not %s within %s (%s): %w\nlog:\n%s", d.Name, what, ready, cmd.String(), err, tail)
	}
	return stop, nil
}

// privateRunAndOpt gives the daemon empty /run and /opt of its own (tmpfs
// in its private mount namespace) before it execs: containerd and its shims
// write to fixed paths there (/run/containerd/s for shim sockets, the
// runc state root, /opt/containerd), which would otherwise land on the host
// and survive a killed run. relapse's private root (/run/relapse, which
// holds the run's directory: the daemon's own files, the runc it runs) is
// kept: opened before the tmpfs hides it and bound back in place from that
// descriptor (--no-canonicalize, or mount would resolve the descriptor to
// its path, which by then names the empty tmpfs).
func privateRunAndOpt(keep string) string {
	return fmt.Sprintf(`set -e
keep=%s
if [ -d "$keep" ]; then exec 9<"$keep"; fi
for d in /run /opt; do [ -d "$d" ] && mount -t tmpfs -o mode=755 relapse "$d"; done
if [ -d /proc/$$/fd/9 ]; then
	mkdir -p "$keep"
	mount --no-canonicalize --bind /proc/$$/fd/9 "$keep"
	exec 9<&-
fi
`, textutil.ShellQuote(keep))
}

// pollReady calls ready until it succeeds or within passes.
func pollReady(ctx context.Context, ready func(context.Context) error, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		err := ready(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitSocket waits for the daemon's socket: a connection on the local
// node, the socket file on a VM node (its unix sockets cannot be dialed
// from here directly).
func waitSocket(ctx context.Context, n node.Node, path string, within time.Duration) error {
	return pollReady(ctx, func(ctx context.Context) error {
		if n.Provider() != "local" {
			return n.Command("test", "-S", path).Run(ctx)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}, within)
}

func (d *Daemon) LogTail(ctx context.Context, n int) string {
	data, err := d.Node.ReadFile(ctx, d.Log)
	if err != nil {
		return err.Error()
	}
	return textutil.LastLines(string(data), n)
}

// stop sends SIGTERM, waits, then kills the daemon and every process that
// still names its directory (shims, runc, a stuck runc init's parent).
func (d *Daemon) stop(ctx context.Context) error {
	if d.proc != nil {
		_ = d.Node.Kill(ctx, d.proc.PID(), int(syscall.SIGTERM))
		done := make(chan error, 1)
		go func() { done <- d.proc.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = d.proc.Kill()
			<-done
		}
	}
	if err := KillUnder(ctx, d.Node, d.Dir); err != nil {
		return err
	}
	if d.Netns != nil {
		// Daemonised helpers (libvirt's dnsmasq) name nothing of the
		// daemon's directory and are nobody's child: the namespace finds them.
		return d.Netns.KillMembers(ctx)
	}
	return nil
}

// KillUnder kills every process whose command line mentions dir (and the
// runc inits below them), waiting until none is left. dir must be inside a
// run's directory: "" or "/" would match nearly every process, PID 1 among them.
func KillUnder(ctx context.Context, n node.Node, dir string) error {
	dir, err := run.RunTarget("kill the processes under", dir)
	if err != nil {
		return err
	}
	var victims []evidence.Process
	err = poll.Within(ctx, 15*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		procs, err := n.Processes(ctx)
		if err != nil {
			return false, err
		}
		victims = evidence.ProcessesUnder(procs, dir)
		for _, p := range victims {
			_ = n.Kill(ctx, p.PID, int(syscall.SIGKILL))
		}
		return len(victims) == 0, nil
	})
	if errors.Is(err, poll.ErrDeadline) {
		return fmt.Errorf("processes under %s survive SIGKILL after 15 s: %v", dir, victims)
	}
	return err
}

func init() {
	run.RegisterLocalRepairer("daemon", func(ctx context.Context, e run.Entry) (string, error) {
		if err := KillUnder(ctx, local.New(), e.Data["dir"]); err != nil {
			return "", err
		}
		return fmt.Sprintf("killed %s and its processes under %s", e.Data["name"], e.Data["dir"]), nil
	})
}

// ProcessTree renders the processes under dir (an engine's daemons, shims,
// runc and container inits) as a table for reports.
func ProcessTree(procs []evidence.Process, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %-7s %-16s %-5s %-22s %s\n", "PID", "PPID", "COMM", "STATE", "WCHAN", "COMMAND")
	for _, p := range evidence.ProcessesUnder(procs, dir) {
		fmt.Fprintf(&b, "%-7d %-7d %-16s %-5s %-22s %s\n", p.PID, p.PPID, p.Comm, p.State, p.Wchan, p.CommandLine())
	}
	return b.String()
}
