package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/sandbox"
)

// faultDir makes a new directory for one armed fault in the target's run
// directory (mktemp: mode 0700, a name nobody guesses), so whatever the
// fault runs names it on its command line and is found through it.
func faultDir(ctx context.Context, t Target, kind string) (string, error) {
	return makeDirIn(ctx, t.Node, t.Dir, kind)
}

// makeDirIn makes a new private directory named after name in parent, a
// directory in a run's (made, private, when missing).
func makeDirIn(ctx context.Context, n node.Node, parent, name string) (string, error) {
	if _, err := run.RunTarget("arm a fault in", parent); err != nil {
		return "", err
	}
	if err := n.Command("mkdir", "-p", "-m", "0700", parent).Run(ctx); err != nil {
		return "", fmt.Errorf("making %s for the faults: %w", parent, err)
	}
	out, err := n.Command("mktemp", "-d", "-p", parent, name+"-XXXXXX").Output(ctx)
	if err != nil {
		return "", fmt.Errorf("making the %s directory in %s: %w", name, parent, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// procGroup is the processes one fault runs on a node (stress-ng, the
// straces), each naming the fault's directory on its command line. It is
// owned through the run as one journal entry of kind "chaos-process" that
// names the directory: disarm, the run's end and the repairer of a killed
// run all stop what names it.
type procGroup struct {
	n    node.Node
	dir  string
	what string
	// gentle is the signal that lets a process undo its own effect (SIGTERM
	// makes strace detach its tracees) before SIGKILL ends what is left.
	gentle  syscall.Signal
	release func(context.Context) error

	mu    sync.Mutex
	procs []node.Process
	done  []chan struct{}
}

// ownProcs journals the group and starts its first process with argv
// (none with nil: the caller starts them).
func ownProcs(ctx context.Context, r *run.Run, n node.Node, dir, what string, gentle syscall.Signal, argv []string) (*procGroup, error) {
	g := &procGroup{n: n, dir: dir, what: what, gentle: gentle}
	var apply func(context.Context) error
	if argv != nil {
		apply = func(ctx context.Context) error { _, err := g.start(ctx, argv); return err }
	}
	release, err := r.Own(ctx, what, "chaos-process", map[string]string{"dir": dir, "what": what}, apply, g.stop)
	if err != nil {
		return nil, err
	}
	g.release = release
	return g, nil
}

// start runs one more process of the group and returns the file its
// output goes to; its argv must name the group's directory, or no repair
// could find it.
func (g *procGroup) start(ctx context.Context, argv []string) (string, error) {
	if !strings.Contains(strings.Join(argv, " "), g.dir) {
		return "", fmt.Errorf("%s: command %q does not name its directory %s, so a repair could not find it", g.what, argv, g.dir)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := filepath.Join(g.dir, fmt.Sprintf("%s-%d.out", filepath.Base(argv[0]), len(g.procs)))
	// The process outlives this call: it ends when the fault is disarmed.
	p, err := g.n.Command(argv[0], argv[1:]...).SetOutputFile(out).Start(context.WithoutCancel(ctx))
	if err != nil {
		return "", fmt.Errorf("%s: %w", g.what, err)
	}
	exited := make(chan struct{})
	go func() { _ = p.Wait(); close(exited) }()
	g.procs = append(g.procs, p)
	g.done = append(g.done, exited)
	return out, nil
}

// stop sends the gentle signal to each process, gives it a few seconds to
// exit, then kills whatever still names the directory.
func (g *procGroup) stop(ctx context.Context) error {
	g.mu.Lock()
	procs, done := g.procs, g.done
	g.mu.Unlock()
	for i, p := range procs {
		_ = g.n.Kill(ctx, p.PID(), int(g.gentle))
		select {
		case <-done[i]:
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
	}
	if err := sandbox.KillUnder(ctx, g.n, g.dir); err != nil {
		return fmt.Errorf("stopping %s: %w", g.what, err)
	}
	return nil
}

func init() {
	run.RegisterLocalRepairer("chaos-process", func(ctx context.Context, e run.Entry) (string, error) {
		// KillUnder refuses a directory outside relapse's trees.
		if err := sandbox.KillUnder(ctx, local.New(), e.Data["dir"]); err != nil {
			return "", err
		}
		return fmt.Sprintf("stopped %s (every process naming %s)", e.Data["what"], e.Data["dir"]), nil
	})
}
