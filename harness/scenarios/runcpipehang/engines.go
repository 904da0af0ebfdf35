package runcpipehang

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// engineUnderTest is an engine (dockerd, containerd) driving the runc
// under test, as users met containerd#5261.
type engineUnderTest interface {
	// Name is "docker" or "containerd".
	Name() string
	// Dir holds the engine's files; its processes name it.
	Dir() string
	// Start creates and starts one container, returning when the engine
	// says it started (on rc93 it never does).
	Start(ctx context.Context, name string) error
	// PipeSize waits for a started container to exit and returns the pipe
	// size its init reported.
	PipeSize(ctx context.Context, name string) (int, error)
	// Churn describes a start for the timeline.
	Churn() string
	// Probes are the engine calls users make while a start hangs.
	Probes() []probe
}

type probe struct {
	name string
	call func(context.Context) error
}

// engineStarters are the engines linked into this binary, by name.
// docker.go and containerd.go add theirs, except in a lean build (-tags
// relapse_lean, what `make repro` builds for ENGINE=runc), which leaves
// the Docker and containerd clients out: they are most of what relapse
// compiles.
var engineStarters = map[string]func(h *hang, ctx context.Context, sb *sandbox.Sandbox) (engineUnderTest, error){}

// registerEngine links an engine's start (a nil engine with an error
// stays a nil interface).
func registerEngine[E engineUnderTest](name string, start func(*hang, context.Context, *sandbox.Sandbox) (E, error)) {
	engineStarters[name] = func(h *hang, ctx context.Context, sb *sandbox.Sandbox) (engineUnderTest, error) {
		e, err := start(h, ctx, sb)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

// allEngines are the engines the scenario knows, linked or not: asking a
// lean build for one it leaves out is not a typo.
var allEngines = []string{"runc", "docker", "containerd"}

// engineChoices are the values the engine parameter takes in this binary.
func engineChoices() []string {
	names := []string{"runc"}
	for name := range engineStarters {
		names = append(names, name)
	}
	sort.Strings(names[1:])
	return names
}

// engineHelp is the engine parameter's help. It is written before the
// engines link themselves in (the declaration is a package variable), so
// it names the lean build rather than asking what this binary has.
const engineHelp = "runc: bare runc create/start; docker: the seed's docker run loop through dockerd -> containerd -> shim -> runc; " +
	"containerd: task create/start through containerd (Debian's 1.6.20, or the one a containerd version builds); " +
	"a lean build (-tags relapse_lean) links runc only (`make build` makes bin/relapse with every engine)"

// validEngine checks an engine against those linked when it is asked
// (after every engine's init), not when the declaration is made.
func validEngine(v string) error { return scenario.NotLinkedChoice(allEngines, engineChoices())(v) }

// startEngine starts the named engine in a sandbox of its own (network
// namespace and cgroup parent) with the runc under test as its runtime.
func (h *hang) startEngine(ctx context.Context, name string) (engineUnderTest, error) {
	start, ok := engineStarters[name]
	if !ok {
		return nil, fmt.Errorf("engine %q is not linked into this relapse (it has %s)", name, strings.Join(engineChoices(), ", "))
	}
	sb, err := sandbox.New(ctx, h.env.Run, "")
	if err != nil {
		return nil, err
	}
	return start(h, ctx, sb)
}

// startDeadline is how long a start may take: five times what the control
// start took, and never less than the configured timeout.
func startDeadline(configured, control time.Duration) time.Duration {
	return max(configured, 5*control)
}

// engineControl starts one container through the engine at the host's
// own pipe limit. A start's deadline follows what that start took: a VM
// under emulation needs tens of seconds for what the host does in one,
// and a deadline is not evidence.
func (h *hang) engineControl(ctx context.Context) kit.Observation {
	env, eng := h.env, h.eng
	name := env.Short() + "-base"
	began := time.Now()
	err := eng.Start(ctx, name)
	took := time.Since(began)
	if scaled := startDeadline(h.timeout, took); scaled > h.timeout && err == nil {
		h.startTimeout = scaled
		env.Condition("start deadline", fmt.Sprintf("%s: 5x the control start (%s), above create-timeout %s",
			scaled.Round(time.Second), took.Round(100*time.Millisecond), h.timeout))
	}
	size := 0
	if err == nil {
		size, err = eng.PipeSize(ctx, name)
	}
	outcome := fmt.Sprintf("ran; a pipe made inside the container holds %d bytes", size)
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	env.Attempt(report.Attempt{N: 0, Label: "control: the host's own pipe limit, no trigger", Container: name, Outcome: outcome, Seconds: took.Seconds()})
	if err != nil {
		return kit.Observation{Failure: fmt.Sprintf("the baseline container (no trigger) did not run through %s: %v", eng.Name(), err)}
	}
	return kit.Ran(factPipe, strconv.Itoa(size))
}

// engineTrigger is the seed's recipe through an engine: with the soft
// limit lowered, starts in a loop until one does not return or the bound
// is reached, while the pipe-deadlock detector watches every `runc init`
// under the engine.
func (h *hang) engineTrigger(ctx context.Context) (kit.Observation, error) {
	env, eng, profile := h.env, h.eng, h.profile
	churn := chaos.Churn{Concurrency: 1, Max: h.attempts, StartTimeout: h.startTimeout,
		Start: func(ctx context.Context, i int) error {
			return eng.Start(ctx, fmt.Sprintf("%s-%d", env.Short(), i+1))
		}}
	det := &pipewrite.Detector{Node: env.Node, Selector: &pipewrite.InitSelector{Under: eng.Dir()}}
	var (
		res     chaos.ChurnResult
		finding *report.Finding
		size    int
		sizeErr error
	)
	if err := h.withTrigger(ctx, func() {
		res, finding = env.ChurnWatched(ctx, eng.Name()+" churn", fmt.Sprintf("up to %d x %s (seccomp %s, %d bytes)",
			h.attempts, eng.Churn(), profile.Name, profile.BPFBytes), churn, det.Watch)
		if finding != nil {
			h.captureEngineHang(ctx, eng, finding)
			runckit.Hold(ctx, env, h.hold, *finding)
			return
		}
		// Read what the last container saw while the trigger is still in
		// force: its init may still be starting when the engine says it started.
		if res.Started > 0 {
			size, sizeErr = eng.PipeSize(ctx, fmt.Sprintf("%s-%d", env.Short(), res.Started))
		}
	}); err != nil {
		return kit.Observation{}, err
	}
	o := armedFacts(profile, eng.Name()+" starts returned")
	o.Facts[factTried], o.Facts[factStarted] = strconv.Itoa(res.Started+res.Failed+res.Stuck), strconv.Itoa(res.Started)
	switch {
	case finding != nil:
		// Starts run one at a time and the churn stops at the hang: the
		// start that hung is the one after those that returned (the churn
		// may count it failed rather than stuck when the engine's own
		// deadline error reached it first, as containerd 2.x's does).
		o.Facts[factHang], o.Facts[factHangAt] = finding.Summary, fmt.Sprintf("%s start %d of %d did not return", eng.Name(), res.Started+1, h.attempts)
	case ctx.Err() != nil:
		return kit.Observation{Failure: "interrupted during the churn"}, nil
	case res.Stuck > 0:
		o.Facts[factStuck] = res.StoppedBy
	case res.Failed > 0:
		o.Facts[factFailed] = fmt.Sprintf("%d %s starts failed: %s", res.Failed, eng.Name(), res.Errors[0])
	case sizeErr != nil:
		o.Facts[factFailed] = fmt.Sprintf("could not read the pipe size the last container saw, so not whether the soft limit was in force: %v", sizeErr)
	}
	// Only the last container's pipe is read (the engine's log of each
	// start costs a wait for its exit): it stands for the starts before it.
	o.Facts[factPipe], o.Facts[factShrunk] = strconv.Itoa(size), "0"
	if size > 0 && size <= unprivilegedPipeBytes {
		o.Facts[factShrunk] = strconv.Itoa(res.Started)
	}
	return o, nil
}

// captureEngineHang records the engine's process tree around the stuck init,
// the stuck init's parent (the shim), and how the engine answers meanwhile
// (the seed's node went NotReady because such calls stalled).
func (h *hang) captureEngineHang(ctx context.Context, eng engineUnderTest, f *report.Finding) {
	env := h.env
	env.Step(report.Step{At: f.At.UTC(), Name: "detected", Detail: f.Summary, Status: "failed"})
	env.Logf("detected after %s: %s", f.Latency().Round(time.Millisecond), f.Summary)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if procs, err := env.Node.Processes(ctx); err == nil {
		env.Evidence(fmt.Sprintf("engine process tree (%s -> shim -> runc init)", eng.Name()), sandbox.ProcessTree(procs, eng.Dir()))
		if snap, err := env.Node.InspectProcess(ctx, f.Processes[0].PPID); err == nil {
			f.Processes = append(f.Processes, snap)
		}
	}
	for _, p := range eng.Probes() {
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		start := time.Now()
		err := p.call(pctx)
		pcancel()
		took := time.Since(start)
		value := fmt.Sprintf("answered in %s", took.Round(time.Millisecond))
		if err != nil {
			value = fmt.Sprintf("failed after %s: %v", took.Round(time.Millisecond), err)
		}
		env.Condition(p.name+" while runc init is stuck", value)
		f.Reasons = append(f.Reasons, p.name+" "+value)
	}
	env.Finding(*f)
}
