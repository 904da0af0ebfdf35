package explore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// observe gathers what the detectors can see when an invariant broke (a
// deadline alone is not evidence): a deep snapshot of every process of the
// trial's containerd tree, the holders of each pipe one of them is
// writing into, and containerd's goroutine dump. It records them on the
// run's report too.
func (t *trial) observe(ctx context.Context, v *Violation) scenario.Observed {
	o := scenario.Observed{Invariant: v.Invariant, Detail: v.Detail, PipeHolders: map[uint64][]evidence.PipeHolder{}}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	env := t.env
	snapshotProcesses(ctx, t.env, t.n, t.dir, v.Invariant, &o, "containerd")
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	defer dcancel()
	if dump, err := t.ctr.GoroutineDump(dctx); err != nil {
		env.Error(fmt.Sprintf("run %d: containerd's goroutines could not be dumped: %v", t.n, err))
	} else {
		o.GoroutineDump = dump
		name := fmt.Sprintf("run-%d-containerd-goroutines.txt", t.n)
		if err := env.SaveFile(name, fmt.Sprintf("containerd's goroutine dump when %q broke in run %d", v.Invariant, t.n), []byte(dump)); err != nil {
			env.Error(err.Error())
		}
		env.Evidence(fmt.Sprintf("run %d: containerd goroutines grouped by stack (full dump: %s)", t.n, name), evidence.SummarizeGoroutines(dump, 15))
	}
	return o
}

// snapshotProcesses records, into o and the report, a deep snapshot of
// every process under dir (the daemons named in skip left out): state,
// syscall, wait channel, and the holders of each pipe one of them is
// writing into, which is what the catalog's claimers read.
func snapshotProcesses(ctx context.Context, env *scenario.Env, run int64, dir, invariant string, o *scenario.Observed, skip ...string) {
	procs, err := env.Node.Processes(ctx)
	if err != nil {
		env.Error(fmt.Sprintf("run %d: listing processes after %q broke: %v", run, invariant, err))
	} else {
		env.Evidence(fmt.Sprintf("run %d: the engine's process tree when %q broke", run, invariant), sandbox.ProcessTree(procs, dir))
	}
	for _, p := range evidence.ProcessesUnder(procs, dir) {
		if slices.Contains(skip, p.Comm) {
			continue
		}
		snap, err := env.Node.InspectProcess(ctx, p.PID)
		if err != nil {
			continue // it exited meanwhile
		}
		o.Processes = append(o.Processes, snap)
		if snap.Syscall.Number != 1 || len(snap.Syscall.Args) == 0 {
			continue // not in write(2)
		}
		if fd, ok := snap.FD(int(snap.Syscall.Args[0])); ok && fd.PipeInode != 0 {
			if holders, err := env.Node.PipeHolders(ctx, fd.PipeInode); err == nil {
				o.PipeHolders[fd.PipeInode] = holders
			}
		}
	}
	var lines []string
	for _, s := range o.Processes {
		lines = append(lines, s.Summary())
	}
	if len(lines) > 0 {
		env.Evidence(fmt.Sprintf("run %d: the engine's processes (state, syscall, wait channel)", run), strings.Join(lines, "\n"))
	}
}
