package explore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/measure"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// The invariants: generic, true of any bug-free stack.
const (
	InvCreate    = "every create+start returns within its bound"
	InvExec      = "every exec returns within its bound"
	InvDelete    = "every kill+delete returns within its bound"
	InvDaemon    = "the daemon answers a Version RPC within its bound"
	InvLeftovers = "nothing is left after teardown (runc init, shim, mount, cgroup)"
)

// metricsAddress is inside the sandbox's own network namespace.
const metricsAddress = "127.0.0.1:1338"

// Bound is the rule that turns the run's own latencies into deadlines:
// an operation is late past max(Factor x the p99 of that operation's
// latencies so far in this run, warm-up included, Floor); with fewer than
// measure.MinSamples samples it is Floor. A loaded machine's slow
// operations raise the bound with them, so only an operation far outside
// the run's own distribution breaks it.
type Bound struct {
	Factor float64
	Floor  time.Duration
}

// DefaultBound: 10 x p99, at least 20 s (a create on 2 shared cores under
// stress took up to 4 s here; a hang is forever).
var DefaultBound = Bound{Factor: 10, Floor: 20 * time.Second}

// Of is the deadline for an operation whose latencies are l.
func (b Bound) Of(l *measure.Latencies) time.Duration { return l.Scaled(b.Floor, b.Factor) }

func (b Bound) String() string {
	return fmt.Sprintf("max(%g x p99 of the run's own latencies of that operation, %s)", b.Factor, b.Floor)
}

// Violation is an invariant that broke, with the evidence gathered then.
type Violation struct {
	Invariant string `json:"invariant"`
	Detail    string `json:"detail"`
	// Step is the schedule step (0-based) it broke in; -1 in the warm-up,
	// len(steps) at teardown.
	Step     int               `json:"step"`
	After    time.Duration     `json:"after_ns"`
	Observed scenario.Observed `json:"-"`
}

// stack is what every trial of a run shares: the node, the builds, the
// sandbox, the latencies measured so far.
type stack struct {
	env    *scenario.Env
	sb     *sandbox.Sandbox
	rootfs string
	bin    string
	runc   string
	timings
	trials atomic.Int64

	profMu   sync.Mutex
	profiles map[string]*specs.LinuxSeccomp
}

const (
	opCreate  = "create+start"
	opExec    = "exec"
	opDelete  = "kill+delete"
	opVersion = "version"
)

func newStack(env *scenario.Env, sb *sandbox.Sandbox, rootfs, bin, runc string, b Bound) *stack {
	return &stack{env: env, sb: sb, rootfs: rootfs, bin: bin, runc: runc, timings: newTimings(b, opCreate, opExec, opDelete, opVersion),
		profiles: map[string]*specs.LinuxSeccomp{}}
}

// trial is one schedule against a fresh containerd.
type trial struct {
	*stack
	// n numbers the run (trials and the shrink's replays alike, from 1):
	// its directory, container ids and log lines ("run N:") carry it, so a
	// replay never meets a trial's leftovers under the same name.
	n     int64
	dir   string
	ctr   *daemons.Containerd
	begin time.Time
	// wrapper is the runtime wrapper containerd runs as its runc.
	wrapper *chaos.Wrapper

	mu    sync.Mutex
	tasks map[string]containerd.Task
	next  int
	armedFaults
	scrapes sync.WaitGroup
}

// run runs sched once; a nil Violation means every invariant held.
func (s *stack) run(ctx context.Context, sched Schedule) (v *Violation, err error) {
	t := &trial{stack: s, n: s.trials.Add(1), tasks: map[string]containerd.Task{}, begin: time.Now()}
	t.dir = filepath.Join(s.env.Dir, fmt.Sprintf("run-%d", t.n))
	s.env.Logf("run %d: schedule seed %d, %d steps", t.n, sched.Seed, len(sched.Steps))
	// Faults keep their own files (strace output, stress-ng's) in
	// Target.Dir: the trial's directory, removed with the run.
	if err := s.env.Node.Command("mkdir", "-p", "-m", "0700", t.target().Dir).Run(ctx); err != nil {
		return nil, fmt.Errorf("run %d: %w", t.n, err)
	}
	// containerd runs the runtime wrapper as its runc, so the faults that
	// act on runc calls (delays, failures, strace on runc, kills after N
	// creates) have something to act through; with no rule it only execs
	// the runc under test, which keeps its pid and process tree. A fresh
	// one per trial: no rule or call count carries over to a replay.
	w, err := chaos.InstallWrapper(ctx, s.env.Node, t.dir, s.runc, s.env.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", t.n, err)
	}
	t.wrapper = w
	ctr, stop, err := daemons.StartContainerd(ctx, s.env.Node, s.env.Journal, t.dir, s.sb.Netns,
		daemons.ContainerdOptions{BinDir: s.bin, Runc: w.Path, Metrics: metricsAddress})
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", t.n, err)
	}
	t.ctr = ctr
	scraping, stopScraping := context.WithCancel(ctx)
	defer func() {
		stopScraping()
		t.scrapes.Wait()
		t.disarm(ctx, t.env, t.n)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if serr := stop(sctx); serr != nil && err == nil {
			err = fmt.Errorf("run %d: stopping containerd: %w", t.n, serr)
		}
	}()
	if v := t.warmUp(ctx); v != nil {
		return t.violated(ctx, v, -1), nil
	}
	if v, i, err := runSchedule(ctx, scraping, t, t.n, sched, nil); v != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return t.violated(ctx, v, i), nil
	}
	if ctx.Err() != nil {
		return nil, nil
	}
	if _, err := t.daemonPID(ctx); err != nil {
		// A fault killed the daemon: its shims outlive it by design (a
		// restarted containerd reconnects to them), so neither the daemon
		// nor the teardown invariant says anything about a bug now.
		t.env.Logf("run %d: %v: the daemon and teardown invariants are not checked", t.n, err)
		return nil, nil
	}
	// Teardown asks what a bug-free stack owes once its faults are gone:
	// a fault that fails every runc delete leaves tasks behind on any
	// containerd, so the faults are removed first; a hang they caused
	// stays a hang.
	stopScraping()
	t.scrapes.Wait()
	t.disarm(ctx, t.env, t.n)
	if v := t.answers(ctx); v != nil {
		return t.violated(ctx, v, len(sched.Steps)), nil
	}
	if v := t.cleanUp(ctx, 4); v != nil {
		return t.violated(ctx, v, len(sched.Steps)), nil
	}
	if v := t.leftovers(ctx); v != nil {
		return t.violated(ctx, v, len(sched.Steps)), nil
	}
	return nil, nil
}

func (t *trial) violated(ctx context.Context, v *Violation, step int) *Violation {
	v.Step, v.After = step, time.Since(t.begin)
	v.Observed = t.observe(ctx, v)
	return v
}

// warmUp measures a few plain create, exec and delete cycles so the
// bounds start from this machine's speed now.
func (t *trial) warmUp(ctx context.Context) *Violation {
	for range 4 {
		if v := t.churn(ctx, Step{Action: ActionChurn, Params: map[string]string{"tasks": "1", "concurrency": "1", "profile": "none"}}); v != nil {
			return v
		}
		if v := t.execStorm(ctx, Step{Params: map[string]string{"execs": "1", "concurrency": "1"}}); v != nil {
			return v
		}
		if v := t.deleteAll(ctx, 1); v != nil {
			return v
		}
	}
	return nil
}

// deleteStep and armStep are the delete and fault steps (stepper).
func (t *trial) deleteStep(ctx context.Context, c int) *Violation { return t.deleteAll(ctx, c) }
func (t *trial) armStep(ctx context.Context, st Step) error {
	return t.arm(ctx, t.env, t.n, st, t.target())
}

// stepper is what a trial of either explorer (containerd alone, a
// cluster) does for each action of a schedule.
type stepper interface {
	churn(ctx context.Context, st Step) *Violation
	execStorm(ctx context.Context, st Step) *Violation
	deleteStep(ctx context.Context, concurrency int) *Violation
	// scrape starts loops that run until ctx (the schedule's) ends.
	scrape(ctx context.Context, loops int)
	armStep(ctx context.Context, st Step) error
}

// runSchedule runs sched's steps on t in order until one breaks an
// invariant (after, when set, is asked after every step too) and returns
// the violation and the step (0-based) it broke in; nothing when ctx
// ended first.
func runSchedule(ctx, scraping context.Context, t stepper, run int64, sched Schedule, after func() *Violation) (*Violation, int, error) {
	for i, st := range sched.Steps {
		if ctx.Err() != nil {
			return nil, 0, nil
		}
		v, err := runStep(ctx, scraping, t, st)
		if err != nil {
			return nil, 0, fmt.Errorf("run %d step %d (%s): %w", run, i+1, st, err)
		}
		if v == nil && after != nil {
			v = after()
		}
		if v != nil {
			return v, i, nil
		}
	}
	return nil, 0, nil
}

// runStep runs one step of a schedule on t.
func runStep(ctx, scraping context.Context, t stepper, st Step) (*Violation, error) {
	switch st.Action {
	case ActionChurn:
		return t.churn(ctx, st), nil
	case ActionExecStorm:
		return t.execStorm(ctx, st), nil
	case ActionDelete:
		return t.deleteStep(ctx, st.Int("concurrency", 1)), nil
	case ActionScrape:
		t.scrape(scraping, st.Int("loops", 1))
		return nil, nil
	case ActionFault:
		return nil, t.armStep(ctx, st)
	}
	return nil, fmt.Errorf("unknown action %q", st.Action)
}

func (t *trial) target() chaos.Target {
	return chaos.Target{Node: t.env.Node, Runc: t.runc, Dir: filepath.Join(t.dir, "faults"),
		Wrapper: t.wrapper, Daemon: t.daemonPID,
		Shims: func(ctx context.Context) ([]int, error) {
			procs, err := t.under(ctx)
			var pids []int
			for _, p := range procs {
				if strings.HasPrefix(p.Comm, "containerd-shim") {
					pids = append(pids, p.PID)
				}
			}
			return pids, err
		}}
}

// under lists the live processes of this trial's containerd tree.
func (t *trial) under(ctx context.Context) ([]evidence.Process, error) {
	procs, err := t.env.Node.Processes(ctx)
	if err != nil {
		return nil, err
	}
	return evidence.ProcessesUnder(procs, t.dir), nil
}

func (t *trial) daemonPID(ctx context.Context) (int, error) {
	procs, err := t.under(ctx)
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		if p.Comm == "containerd" {
			return p.PID, nil
		}
	}
	return 0, errors.New("containerd of " + t.dir + " is not running")
}

// spec gives a churn's containers what users give theirs.
func (t *trial) spec(profile string, nnp bool) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *specs.Spec) error {
		s.Process.NoNewPrivileges = nnp
		if profile == "none" || profile == "" {
			return nil
		}
		t.profMu.Lock()
		defer t.profMu.Unlock()
		if p, ok := t.profiles[profile]; ok {
			s.Linux.Seccomp = p
			return nil
		}
		p, err := fixture.LoadProfile(profile, s)
		if err != nil {
			return err
		}
		t.profiles[profile] = p.Seccomp
		s.Linux.Seccomp = p.Seccomp
		return nil
	}
}

// churn creates and starts tasks; one that outlives its bound breaks
// InvCreate (chaos.Churn applies the bound: Scaled(Floor, Factor)).
func (t *trial) churn(ctx context.Context, st Step) *Violation {
	opts := t.spec(st.Params["profile"], st.Params["nnp"] == "true")
	c := chaos.Churn{Concurrency: st.Int("concurrency", 1), Max: st.Int("tasks", 1),
		StartTimeout: t.bound.Floor, StuckFactor: t.bound.Factor, Measured: t.lat[opCreate], Relieve: t.relief(ctx, t.env, t.n),
		Start: func(ctx context.Context, _ int) error {
			t.mu.Lock()
			t.next++
			id := fmt.Sprintf("t%d-%d", t.n, t.next)
			t.mu.Unlock()
			ctr, err := t.ctr.NewContainer(ctx, id, t.rootfs, oci.WithProcessArgs("/init", "sleep=3600"), opts,
				oci.WithCgroup("/"+t.sb.Cgroup+"/"+id))
			if err != nil {
				return err
			}
			task, err := ctr.NewTask(ctx, cio.NullIO)
			if err != nil {
				return fmt.Errorf("create %s: %w", id, err)
			}
			t.mu.Lock()
			t.tasks[id] = task
			t.mu.Unlock()
			return task.Start(ctx)
		}}
	res := c.Run(ctx, nil)
	if res.Stuck > 0 && ctx.Err() == nil {
		return &Violation{Invariant: InvCreate, Detail: fmt.Sprintf("%s (%s)", res.StoppedBy, res.Summary())}
	}
	return nil
}

// running is a snapshot of the tasks started so far.
func (t *trial) running() []containerd.Task {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]containerd.Task, 0, len(t.tasks))
	for _, task := range t.tasks {
		out = append(out, task)
	}
	return out
}

// execStorm runs short execs into the running tasks, round robin.
func (t *trial) execStorm(ctx context.Context, st Step) *Violation {
	tasks := t.running()
	if len(tasks) == 0 {
		return nil
	}
	var seq atomic.Int64
	late := t.bounded(ctx, t.relief(ctx, t.env, t.n), opExec, st.Int("execs", 1), st.Int("concurrency", 1), func(ctx context.Context, i int) error {
		task := tasks[i%len(tasks)]
		id := fmt.Sprintf("x%d", seq.Add(1))
		p, err := task.Exec(ctx, id, &specs.Process{Args: []string{"/init"}, Cwd: "/", Env: []string{"PATH=/"}}, cio.NullIO)
		if err != nil {
			return err
		}
		exited, err := p.Wait(ctx)
		if err != nil {
			return err
		}
		if err := p.Start(ctx); err != nil {
			_, _ = p.Delete(ctx)
			return err
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
		_, err = p.Delete(ctx)
		return err
	})
	if late != "" {
		return &Violation{Invariant: InvExec, Detail: late}
	}
	return nil
}

// deleteAll kills and deletes every task started so far.
func (t *trial) deleteAll(ctx context.Context, c int) *Violation {
	tasks := t.running()
	late := t.bounded(ctx, t.relief(ctx, t.env, t.n), opDelete, len(tasks), c, func(ctx context.Context, i int) error {
		task := tasks[i]
		exited, err := task.Wait(ctx)
		if err != nil {
			return err
		}
		if err := task.Kill(ctx, syscall.SIGKILL); err != nil {
			return err
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
		if _, err := task.Delete(ctx); err != nil {
			return err
		}
		t.mu.Lock()
		delete(t.tasks, task.ID())
		t.mu.Unlock()
		ctr, err := t.ctr.Client.LoadContainer(ctx, task.ID())
		if err != nil {
			return err
		}
		return ctr.Delete(ctx)
	})
	if late != "" {
		return &Violation{Invariant: InvDelete, Detail: late}
	}
	return nil
}

// cleanUp removes every container the daemon lists, as a client's garbage
// collection does: the ones a step left behind too (a start or delete a
// fault failed leaves a created or stopped task that the trial's own list
// no longer holds). A task already stopped is not killed again.
func (t *trial) cleanUp(ctx context.Context, c int) *Violation {
	lctx, cancel := context.WithTimeout(ctx, t.bound.Of(t.lat[opDelete]))
	ctrs, err := t.ctr.Client.Containers(lctx)
	cancel()
	if err != nil {
		if lctx.Err() != nil && ctx.Err() == nil {
			return &Violation{Invariant: InvDelete, Detail: fmt.Sprintf("listing the containers did not return within %s (%v)", t.bound.Of(t.lat[opDelete]).Round(time.Millisecond), err)}
		}
		t.env.Error(fmt.Sprintf("run %d: listing the containers at teardown: %v", t.n, err))
		return nil
	}
	late := t.bounded(ctx, t.relief(ctx, t.env, t.n), opDelete, len(ctrs), c, func(ctx context.Context, i int) error {
		ctr := ctrs[i]
		task, err := ctr.Task(ctx, nil)
		switch {
		case errdefs.IsNotFound(err):
		case err != nil:
			return err
		default:
			exited, err := task.Wait(ctx)
			if err != nil {
				return err
			}
			if st, err := task.Status(ctx); err == nil && st.Status != containerd.Stopped {
				if err := task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
					return err
				}
				select {
				case <-exited:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
		}
		t.mu.Lock()
		delete(t.tasks, ctr.ID())
		t.mu.Unlock()
		return ctr.Delete(ctx)
	})
	if late != "" {
		return &Violation{Invariant: InvDelete, Detail: late}
	}
	return nil
}

// scrape starts loops that GET /v1/metrics until ctx ends.
func (t *trial) scrape(ctx context.Context, loops int) {
	hc := t.ctr.MetricsClient()
	for range loops {
		t.scrapes.Add(1)
		go func() {
			defer t.scrapes.Done()
			for ctx.Err() == nil {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_ = t.ctr.ScrapeMetrics(sctx, hc)
				cancel()
			}
		}()
	}
}

// answers asks the daemon its version within the bound.
func (t *trial) answers(ctx context.Context) *Violation {
	late := t.bounded(ctx, t.relief(ctx, t.env, t.n), opVersion, 1, 1, func(ctx context.Context, _ int) error {
		_, err := t.ctr.Version(ctx)
		return err
	})
	if late != "" {
		return &Violation{Invariant: InvDaemon, Detail: late}
	}
	return nil
}

// leftovers checks, once every task was deleted through the API, that
// the shims exit and no runc init, runc, mount or cgroup of the trial
// stays. Shims exit on their own after their last task: they get the
// delete bound to do so.
func (t *trial) leftovers(ctx context.Context) *Violation {
	var left []string
	check := func(ctx context.Context) (bool, error) {
		left = nil
		procs, err := t.under(ctx)
		if err != nil {
			left = append(left, "processes: "+err.Error())
			return false, nil
		}
		for _, p := range procs {
			if p.Comm != "containerd" {
				left = append(left, fmt.Sprintf("process %d %s (%s)", p.PID, p.Comm, p.CommandLine()))
			}
		}
		left = append(left, t.leftMounts(ctx)...)
		left = append(left, t.leftCgroups(ctx)...)
		return len(left) == 0, nil
	}
	if err := poll.Within(ctx, t.bound.Of(t.lat[opDelete]), 200*time.Millisecond, check); err != nil && ctx.Err() == nil {
		t.env.Evidence(fmt.Sprintf("run %d: what was left after teardown", t.n), strings.Join(left, "\n"))
		return &Violation{Invariant: InvLeftovers, Detail: summarise(left, 5)}
	}
	return nil
}

// summarise is the first few of many leftovers and how many there were:
// one trial can leave a hundred shims, and the line goes to a log and a
// report's first screen (the observed evidence keeps them all).
func summarise(left []string, first int) string {
	if len(left) <= first {
		return strings.Join(left, "; ")
	}
	return fmt.Sprintf("%d left: %s; ... %d more", len(left), strings.Join(left[:first], "; "), len(left)-first)
}

// leftMounts lists mounts under the trial's directory in containerd's own
// mount namespace (the daemon runs in a private one).
func (t *trial) leftMounts(ctx context.Context) []string {
	pid, err := t.daemonPID(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	info, err := t.env.Node.ReadFile(ctx, fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return []string{"mountinfo: " + err.Error()}
	}
	var left []string
	for _, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], filepath.Join(t.dir, "state")) {
			left = append(left, "mount "+f[4])
		}
	}
	return left
}

// leftCgroups lists this trial's container cgroups still present in any
// hierarchy under the sandbox's cgroup parent.
func (t *trial) leftCgroups(ctx context.Context) []string {
	out, err := t.env.Node.Command("find", "/sys/fs/cgroup", "-maxdepth", "3", "-type", "d",
		"-path", fmt.Sprintf("*/%s/t%d-*", t.sb.Cgroup, t.n)).Output(ctx)
	if err != nil {
		return []string{"cgroups: " + err.Error()}
	}
	var left []string
	for _, l := range strings.Fields(string(out)) {
		left = append(left, "cgroup "+l)
	}
	return left
}
