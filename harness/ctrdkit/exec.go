package ctrdkit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOutcome is one exec process as a client (kubelet's exec probe, `ctr
// t exec`) runs it: create, wait, start, then wait for its exit.
type ExecOutcome struct {
	ID string
	// PID is the exec's process on the node (0 when it did not start).
	PID uint32
	// Took is from its create to the exit containerd reported.
	Took time.Duration
	// Exited says containerd reported its exit within the deadline.
	Exited bool
	// Alive says its process was still on the node after the deadline
	// (only asked of one that did not exit).
	Alive bool
	// Err is why it did not exit in time: the RPC that failed or the
	// deadline.
	Err error
}

// ExecStorm starts n execs of args at once into task (ids prefix-1 ...
// prefix-n) and waits for every exit up to deadline. Execs whose exit did
// not come are looked for on the node: a process still running is slow,
// one gone had its exit lost.
func (k *Kit) ExecStorm(ctx context.Context, task containerd.Task, prefix string, n int, deadline time.Duration, args ...string) ([]ExecOutcome, error) {
	spec, err := task.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("the task's spec: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	out := make([]ExecOutcome, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pspec := *spec.Process
			pspec.Args = args
			out[i] = execOnce(dctx, task, fmt.Sprintf("%s-%d", prefix, i+1), &pspec)
		}()
	}
	wg.Wait()
	procs, err := k.Node.Processes(context.WithoutCancel(ctx))
	if err != nil {
		return out, err
	}
	alive := map[int]bool{}
	for _, p := range procs {
		alive[p.PID] = p.State != "Z"
	}
	for i := range out {
		out[i].Alive = !out[i].Exited && out[i].PID != 0 && alive[int(out[i].PID)]
	}
	return out, nil
}

// execOnce runs one exec within ctx.
func execOnce(ctx context.Context, task containerd.Task, id string, pspec *specs.Process) ExecOutcome {
	o := ExecOutcome{ID: id}
	began := time.Now()
	p, err := task.Exec(ctx, id, pspec, cio.NullIO)
	if err != nil {
		o.Err = fmt.Errorf("create: %w", err)
		return o
	}
	// Wait before Start, as clients do, so an early exit is not missed.
	exited, err := p.Wait(ctx)
	if err != nil {
		o.Err = fmt.Errorf("wait: %w", err)
		return o
	}
	if err := p.Start(ctx); err != nil {
		o.Err = fmt.Errorf("start: %w", err)
		return o
	}
	o.PID = p.Pid()
	select {
	case <-exited:
		o.Exited, o.Took = true, time.Since(began)
		// The exec is done: containerd forgets it (bounded by the same
		// deadline; a failure here is not the exit's).
		_, _ = p.Delete(ctx)
	case <-ctx.Done():
		o.Err = fmt.Errorf("no exit within the deadline (%s after its create)", time.Since(began).Round(time.Millisecond))
	}
	return o
}

// Exits records the TaskExit events the daemon publishes, by exec id (the
// init's under its container's id): what tells a client a process ended.
type Exits struct {
	mu   sync.Mutex
	seen map[string]uint32
	err  error
}

// WatchExits subscribes to /tasks/exit until ctx ends.
func (k *Kit) WatchExits(ctx context.Context) *Exits {
	x := &Exits{seen: map[string]uint32{}}
	envelopes, errs := k.Client.Subscribe(ctx, `topic=="/tasks/exit"`)
	go func() {
		for {
			select {
			case env := <-envelopes:
				ev, err := typeurl.UnmarshalAny(env.Event)
				if exit, ok := ev.(*apievents.TaskExit); ok && err == nil {
					x.mu.Lock()
					x.seen[exit.ID] = exit.ExitStatus
					x.mu.Unlock()
				}
			case err := <-errs:
				x.mu.Lock()
				if ctx.Err() == nil {
					x.err = err
				}
				x.mu.Unlock()
				return
			}
		}
	}()
	return x
}

// Seen says whether a TaskExit for id was published.
func (x *Exits) Seen(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.seen[id]
	return ok
}

// Count is how many exits were published.
func (x *Exits) Count() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.seen)
}

// Err is why the subscription ended early (nil while it runs).
func (x *Exits) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}
