package runcpipehang

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// SoftLimitKey is the sysctl the trigger lowers.
const SoftLimitKey = "fs.pipe-user-pages-soft"

// unprivilegedPipeBytes is the most a new pipe of a user over the soft
// limit holds: 2 pages since Linux 5.14 ("pipe: increase minimum default
// pipe size to 2 pages", 46c4c9d1beb7, also in 4.9.280, 4.19.204 and
// 5.10.58), 1 page (4096 bytes) before and on a kernel with that change
// reverted. Whether a filter is too big is decided from the size the
// containers' own pipes had, measured under the trigger, not from the
// kernel's version.
const unprivilegedPipeBytes = 8192

// defaultSoftLimit is the kernel's own fs.pipe-user-pages-soft (16384
// pages, 64 MiB): below it uid 0's pipes, which the host's daemons hold
// plenty of, may already exceed the limit.
const defaultSoftLimit = 16384

// Preconditions: the control container needs new pipes at full size, so
// the pipe limit must not be lowered already (an interrupted reproducer or
// run leaves it at the trigger's 1: every later control then failed with
// no word of why); and a runc init left stuck by an earlier run holds pipes
// and is mistaken for this run's.
func Preconditions(scenario.Values) []scenario.Precondition {
	return []scenario.Precondition{
		scenario.SysctlAtLeast(SoftLimitKey, defaultSoftLimit,
			"the control container needs full-size pipes, which the kernel gives uid 0 only below this limit (an interrupted "+
				"reproduce.sh or relapse run leaves the trigger's value behind); with it lowered the control does not start and the run "+
				"cannot decide"),
		scenario.NoProcessNamed("runc init", "a runc init left from elsewhere (an interrupted reproducer, a killed run) holds pipes of "+
			"uid 0 and shows up among this run's containers", "runc:[2:INIT]", "runc:[1:CHILD]", "runc:[0:PARENT]"),
	}
}

// checkPlan refuses a containerd version for an engine that does not run
// it: the run would build a containerd and never start it.
func checkPlan(_ string, params scenario.Values, versions map[string]string) error {
	if v, ok := versions["containerd"]; ok && params.String("engine") != "containerd" {
		return fmt.Errorf("containerd %s was given with engine=%s: only engine=containerd runs a containerd relapse builds "+
			"(engine=docker runs Debian's dockerd with its own containerd); add engine=containerd (ENGINE=containerd), or leave the containerd version out",
			strings.TrimPrefix(v, "v"), params.String("engine"))
	}
	return nil
}

// hang is one run: what the control prepares and the trigger reuses.
type hang struct {
	env      *scenario.Env
	kit      *runckit.Kit
	bundle   string
	spec     *specs.Spec
	profile  fixture.Profile
	timeout  time.Duration
	hold     time.Duration
	attempts int
	// eng is the engine driving runc (nil: bare runc); startTimeout is
	// how long one start through it may take.
	eng          engineUnderTest
	startTimeout time.Duration
}

// control builds the bundle, writes the reproducer, starts the engine
// when one is asked for, and starts one container at the host's own pipe
// limit (unless baseline=false).
func control(ctx context.Context, r *kit.Run) (kit.Observation, error) {
	env := r.Env
	h := &hang{env: env, kit: r.Runc, timeout: env.Params.Duration("create-timeout"), hold: env.Params.Duration("hold"),
		attempts: env.Params.Int("attempts")}
	h.startTimeout = h.timeout
	r.Data = h
	if err := h.prepareBundle(ctx); err != nil {
		return kit.Observation{}, err
	}
	if err := h.writeReproducer(); err != nil {
		return kit.Observation{}, err
	}
	if name := env.Params.String("engine"); name != "runc" {
		eng, err := h.startEngine(ctx, name)
		if err != nil {
			return kit.Observation{}, err
		}
		h.eng = eng
	}
	if !env.Params.Bool("baseline") {
		return kit.Ran("control", "not run (baseline=false)"), nil
	}
	if h.eng != nil {
		return h.engineControl(ctx), nil
	}
	base := h.kit.Try(ctx, runckit.Try{N: 0, Bundle: h.bundle, Timeout: h.timeout, Label: "control: the host's own pipe limit, no trigger"})
	if !base.Started {
		return kit.Observation{Failure: "the control container (host's own pipe limit, no trigger) did not start: " + base.Record.Outcome}, nil
	}
	return kit.Ran(factPipe, strconv.Itoa(base.Init.PipeSize)), nil
}

// trigger lowers the soft limit and creates up to attempts containers,
// stopping at the first the pipe-deadlock detector classifies as stuck.
func trigger(ctx context.Context, r *kit.Run) (kit.Observation, error) {
	h := r.Data.(*hang)
	if h.eng != nil {
		return h.engineTrigger(ctx)
	}
	var outcomes []*runckit.Outcome
	if err := h.withTrigger(ctx, func() {
		for n := 1; n <= h.attempts && ctx.Err() == nil; n++ {
			o := h.kit.Try(ctx, runckit.Try{N: n, Bundle: h.bundle, Timeout: h.timeout, Hold: h.hold,
				Detector: &pipewrite.Detector{Node: h.env.Node, Selector: &pipewrite.InitSelector{Binary: h.kit.Runc.Binary}}})
			outcomes = append(outcomes, o)
			if o.Finding != nil {
				break
			}
		}
	}); err != nil {
		return kit.Observation{}, err
	}
	return observe(outcomes, h.attempts, h.profile), nil
}

// observe is what bare runc's starts showed, as the facts classify reads:
// the hang the detector classified, the starts that failed otherwise, and
// the pipe sizes the containers that ran saw.
func observe(outcomes []*runckit.Outcome, planned int, profile fixture.Profile) kit.Observation {
	o := armedFacts(profile, "containers started")
	var started, shrunk, largest int
	var failures []string
	for _, a := range outcomes {
		switch {
		case a.Finding != nil:
			o.Facts[factHang], o.Facts[factHangAt] = a.Finding.Summary, fmt.Sprintf("attempt %d of %d", a.Record.N, planned)
		case a.Started:
			started++
			if a.Init.PipeSize > 0 && a.Init.PipeSize <= unprivilegedPipeBytes {
				shrunk++
				largest = max(largest, a.Init.PipeSize)
			}
		default:
			failures = append(failures, fmt.Sprintf("attempt %d: %s", a.Record.N, a.Failure))
		}
	}
	o.Facts[factTried], o.Facts[factStarted], o.Facts[factShrunk] = strconv.Itoa(len(outcomes)), strconv.Itoa(started), strconv.Itoa(shrunk)
	o.Facts[factPipe] = strconv.Itoa(largest)
	if len(failures) > 0 {
		o.Facts[factFailed] = strings.Join(failures, "; ")
	}
	return o
}

// armedFacts are the facts of the trigger every start shares: the filter
// and what a start is called.
func armedFacts(profile fixture.Profile, starting string) kit.Observation {
	return kit.Ran(factFilter, strconv.Itoa(profile.BPFBytes), factProfile, profile.Name, factStarting, starting)
}

// withTrigger lowers the soft limit, runs fn, and puts the limit back as
// soon as fn returns (the run's ledger would also undo it later, on any
// exit path).
func (h *hang) withTrigger(ctx context.Context, fn func()) error {
	env := h.env
	limit := env.Params.String("soft-limit")
	if err := (chaos.Sysctl{Key: SoftLimitKey, Value: limit}).Apply(ctx, env.Run); err != nil {
		return err
	}
	env.Event("trigger armed", fmt.Sprintf("%s=%s", SoftLimitKey, limit))
	fn()
	if err := env.Ledger.UndoAll(context.WithoutCancel(ctx)); err != nil {
		env.Error(err.Error())
	}
	env.Event("trigger disarmed", SoftLimitKey+" restored")
	return nil
}

// prepareBundle builds the seccomp profile and the bundle every attempt
// uses, saves a copy with the report, and records the filter's size.
func (h *hang) prepareBundle(ctx context.Context) error {
	env, kit := h.env, h.kit
	spec := kit.Config(fixture.ConfigOptions{NoNewPrivileges: true})
	profile, err := fixture.LoadProfile(env.Params.String("profile"), spec)
	if err != nil {
		return err
	}
	spec.Linux.Seccomp = profile.Seccomp
	h.spec, h.profile = spec, profile
	if h.bundle, err = kit.Bundle(ctx, "pipe-hang", spec); err != nil {
		return err
	}
	if err := kit.SaveBundle(spec, "bundle", "the OCI config every attempt used (seccomp profile included)"); err != nil {
		return err
	}
	if err := kit.SaveSeccomp("seccomp.json", profile.Seccomp, "the seccomp profile alone, for docker run --security-opt seccomp=seccomp.json"); err != nil {
		return err
	}
	env.Condition("seccomp profile", profile.Description)
	if profile.Name == fixture.ProfileLarge {
		env.Condition("why the profile is large", fmt.Sprintf("a shrunk pipe holds 2 pages (%d bytes) since Linux 5.14 (46c4c9d1beb7, "+
			"\"pipe: increase minimum default pipe size to 2 pages\", also in 4.9.280, 4.19.204, 5.10.58) and 1 page (4096 bytes) before; "+
			"Docker's default profile alone fits the 2-page pipe here (the docker-default profile shows it), which is why the seed's "+
			"users, on older kernels, hung with it; the extra rules allow personality(2) for persona values no program uses, so only "+
			"the filter's size changes", unprivilegedPipeBytes))
	}
	env.Condition("compiled seccomp filter", fmt.Sprintf("%d bytes (%d rules, architectures %s; libseccomp %s)",
		profile.BPFBytes, profile.Rules, strings.Join(profile.Architectures, " "), env.Report.Host.Libseccomp))
	env.Condition("filter vs. unprivileged pipe", pipeCondition(profile.BPFBytes))
	return nil
}

// pipeCondition says before the attempts what the filter's size can do;
// the containers' own pipes, measured under the trigger, decide afterwards.
func pipeCondition(filterBytes int) string {
	switch {
	case filterBytes > unprivilegedPipeBytes:
		return fmt.Sprintf("%d > %d bytes: the filter overfills a shrunk pipe on any kernel, so the trigger can block the write", filterBytes, unprivilegedPipeBytes)
	case filterBytes > unprivilegedPipeBytes/2:
		return fmt.Sprintf("%d bytes: more than a 1-page shrunk pipe (4096, kernels before 5.14 or with 46c4c9d1beb7 reverted) holds, less than a 2-page one (%d): "+
			"the size the containers' pipes have under the trigger decides whether it was armed", filterBytes, unprivilegedPipeBytes)
	default:
		return fmt.Sprintf("%d bytes: fits even a 1-page shrunk pipe, so the hang cannot happen with this profile", filterBytes)
	}
}

// writeReproducer puts the portable script into the report: the same
// config with a generated profile at least as large as the one that ran.
func (h *hang) writeReproducer() error {
	var archs []specs.Arch
	archs = append(archs, h.profile.Seccomp.Architectures...)
	rules, size, err := fixture.SizePipeFillerCached(h.env.CacheDir, archs, h.profile.BPFBytes)
	if err != nil {
		return fmt.Errorf("sizing the reproducer's profile: %w", err)
	}
	script, err := manualSteps(reproducer{runc: h.kit.Art, spec: h.spec, profile: h.profile, fillerRules: rules, fillerBytes: size,
		softLimit: h.env.Params.String("soft-limit"), engine: h.env.Params.String("engine"), kernel: h.env.Report.Host.Kernel,
		libseccomp: h.env.Report.Host.Libseccomp})
	if err != nil {
		return err
	}
	h.env.Report.Reproduce = script
	return nil
}
