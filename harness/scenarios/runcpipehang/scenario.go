package runcpipehang

import (
	"context"
	"fmt"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Name is the scenario's name on the command line.
const Name = "runc-pipe-hang"

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

// Scenario is the rc93 seccomp pipe hang (containerd#5261, runc#2871).
type Scenario struct{}

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string { return Name }

// Bug is exported for the suites, which label specs with it.
var Bug = report.Bug{
	ID:    "containerd#5261",
	Fix:   "runc#2871",
	Title: "runc v1.0.0-rc93: runc init hangs exporting its seccomp filter into a pipe it reads only afterwards",
	Summary: "runc v1.0.0-rc93 (libcontainer/seccomp/patchbpf, new in rc93) exports the container's seccomp filter into an " +
		"os.Pipe synchronously and reads it only afterwards. With noNewPrivileges the filter is loaded after capabilities are " +
		"dropped, so the kernel treats `runc init` as an unprivileged user; once uid 0's pipes exceed fs.pipe-user-pages-soft " +
		"a new pipe gets the minimum capacity (2 pages, 8192 bytes, since Linux 5.14; 1 page before), and a filter larger " +
		"than that blocks `runc init` forever. The container stays 'created', `docker run` or the CRI call never returns, " +
		"and under Kubernetes PLEG stalls and the node flaps NotReady. Fixed in rc94 by runc#2871, which reads the pipe " +
		"while libseccomp writes.",
	Links: []report.Link{
		{Title: "containerd/containerd#5261: Container startup with option no-new-privileges get stuck in containerd version 1.4.4 (the seed report)", URL: "https://github.com/containerd/containerd/issues/5261"},
		{Title: "opencontainers/runc#2871: Ensure the seccomp pipe is being read while exporting bpf (the fix, v1.0.0-rc94)", URL: "https://github.com/opencontainers/runc/pull/2871"},
		{Title: "opencontainers/runc#2750: seccomp: prepend -ENOSYS stub to all filters (added patchbpf in rc93)", URL: "https://github.com/opencontainers/runc/pull/2750"},
		{Title: "opencontainers/runc#2865: loading seccomp filter: invalid argument (the same hang on Kubernetes nodes, with strace attached)", URL: "https://github.com/opencontainers/runc/issues/2865"},
		{Title: "containerd/containerd#5280: create container stuck by run init", URL: "https://github.com/containerd/containerd/issues/5280"},
		{Title: "rancher/rke2#973: Pods stuck in ContainerCreating state (~100 pods; rc94 fixed it)", URL: "https://github.com/rancher/rke2/issues/973"},
		{Title: "opencontainers/runc#2828: runc init blocked opening exec.fifo (a different bug: the pipe-soft-limit recipe posted there was answered \"this is #2871\")", URL: "https://github.com/opencontainers/runc/issues/2828"},
	},
	Component:  "runc",
	Affected:   ">= 1.0.0-rc93, < 1.0.0-rc94",
	Introduced: "v1.0.0-rc93 (runc#2750 added libcontainer/seccomp/patchbpf)",
	Fixed:      "v1.0.0-rc94 (runc#2871 reads the pipe while libseccomp writes)",
}

func (Scenario) Bug() report.Bug { return Bug }

// Sampling: the hang is deterministic once armed.
func (Scenario) Sampling() report.Sampling {
	return report.Sampling{Deterministic: true,
		Why: "rc93 writes the whole filter with one write(2) before reading; with a filter larger than the pipe and nobody else " +
			"holding the read end, the kernel blocks that write every time, so a container that ran while its own pipes were " +
			"shrunk proves the runc under test does not hang",
		Fresh: "a new bundle and containers in a fresh runc state root (~1 s); with ENGINE=docker or containerd a fresh daemon too (~3-6 s)"}
}

// Components: the runc under test, and for engine=containerd the
// containerd driving it when a version is given (OptionalComponents).
func (Scenario) Components() []versions.Builder {
	return []versions.Builder{versions.RuncRecipe, versions.ContainerdRecipe}
}

// OptionalComponents: without a containerd version, engine=containerd
// drives Debian's containerd and nothing is built; engine=runc and docker
// need none.
func (Scenario) OptionalComponents() []string { return []string{"containerd"} }

// Supports: what relapse can build. The bug is runc's, so any containerd
// that drives runc through the runc v2 shim shows it.
func (Scenario) Supports() []scenario.Support {
	return []scenario.Support{scenario.RuncBuildable, scenario.ContainerdBuildable}
}

// CheckPlan refuses a containerd version for an engine that does not run
// it: the run would build a containerd and never start it.
func (Scenario) CheckPlan(_ string, params scenario.Values, versions map[string]string) error {
	if v, ok := versions["containerd"]; ok && params.String("engine") != "containerd" {
		return fmt.Errorf("containerd %s was given with engine=%s: only engine=containerd runs a containerd relapse builds "+
			"(engine=docker runs Debian's dockerd with its own containerd); add engine=containerd (ENGINE=containerd), or leave the containerd version out",
			strings.TrimPrefix(v, "v"), params.String("engine"))
	}
	return nil
}

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		scenario.ChoiceParam("profile", fixture.ProfileLarge,
			"seccomp profile: large (compiles past 8192 bytes) or docker-default (fits on kernels with 2-page pipes; shows the trigger is not armed)",
			fixture.ProfileDockerDefault, fixture.ProfileLarge),
		scenario.IntParam("attempts", 1, 1, 100, "containers to create with the trigger armed in one repetition; it stops at the first hang (the hang is deterministic: one decides)"),
		scenario.IntParam("soft-limit", 1, 0, 1<<30, "value written to fs.pipe-user-pages-soft while the trigger is armed"),
		scenario.DurationParam("create-timeout", "20s", false, "how long one container start may take before the attempt ends unclassified"),
		scenario.StringParam("engine", "runc", engineHelp(), scenario.NotLinkedChoice(allEngines, engineChoices())),
		scenario.DurationParam("hold", "0s", true, "keep the stuck runc init this long after detection (for strace/gdb by hand) before cleaning up"),
		scenario.BoolParam("baseline", true, "first start one container without the trigger, to prove the bundle itself works"),
	}
}

// defaultSoftLimit is the kernel's own fs.pipe-user-pages-soft (16384
// pages, 64 MiB): below it uid 0's pipes, which the host's daemons hold
// plenty of, may already exceed the limit.
const defaultSoftLimit = 16384

// Preconditions: the control container needs new pipes at full size, so
// the pipe limit must not be lowered already (an interrupted reproducer or
// run leaves it at the trigger's 1: every later control then failed with
// no word of why); and a runc init left stuck by an earlier run holds pipes
// and is mistaken for this run's.
func (Scenario) Preconditions(scenario.Values) []scenario.Precondition {
	return []scenario.Precondition{
		scenario.SysctlAtLeast(SoftLimitKey, defaultSoftLimit,
			"the control container needs full-size pipes, which the kernel gives uid 0 only below this limit (an interrupted "+
				"reproduce.sh or relapse run leaves the trigger's value behind); with it lowered the control does not start and the run "+
				"cannot decide"),
		scenario.NoProcessNamed("runc init", "a runc init left from elsewhere (an interrupted reproducer, a killed run) holds pipes of "+
			"uid 0 and shows up among this run's containers", "runc:[2:INIT]", "runc:[1:CHILD]", "runc:[0:PARENT]"),
	}
}

// hang is one run of the scenario.
type hang struct {
	env      *scenario.Env
	kit      *runckit.Kit
	bundle   string
	spec     *specs.Spec
	profile  fixture.Profile
	timeout  time.Duration
	hold     time.Duration
	attempts int
}

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	kit, err := runckit.New(ctx, env, runckit.Options{DebugLog: true})
	if err != nil {
		return report.Inconclusive, "", err
	}
	h := &hang{env: env, kit: kit, timeout: env.Params.Duration("create-timeout"), hold: env.Params.Duration("hold"),
		attempts: env.Params.Int("attempts")}
	if err := h.prepareBundle(ctx); err != nil {
		return report.Inconclusive, "", err
	}
	if err := h.writeReproducer(); err != nil {
		return report.Inconclusive, "", err
	}
	if name := env.Params.String("engine"); name != "runc" {
		eng, err := h.startEngine(ctx, name)
		if err != nil {
			return report.Inconclusive, "", err
		}
		return h.viaEngine(ctx, eng)
	}

	if env.Params.Bool("baseline") {
		base := kit.Try(ctx, runckit.Try{N: 0, Bundle: h.bundle, Timeout: h.timeout, Label: "control: the host's own pipe limit, no trigger"})
		if !base.Started {
			return report.Inconclusive, "the control container (host's own pipe limit, no trigger) did not start: " +
				base.Record.Outcome + "; the bundle or this runc does not work here, so a hang would prove nothing", nil
		}
	}
	var outcomes []*runckit.Outcome
	if err := h.withTrigger(ctx, func() {
		for n := 1; n <= h.attempts && ctx.Err() == nil; n++ {
			o := kit.Try(ctx, runckit.Try{N: n, Bundle: h.bundle, Timeout: h.timeout, Hold: h.hold,
				Detector: &pipewrite.Detector{Node: env.Node, Selector: &pipewrite.InitSelector{Binary: kit.Runc.Binary}}})
			outcomes = append(outcomes, o)
			if o.Finding != nil {
				break
			}
		}
	}); err != nil {
		return report.Inconclusive, "", err
	}
	return decide(outcomes, h.attempts, h.profile)
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

// armedBy says whether a filter overfills the shrunk pipe the containers
// had: a filter that fits could not hang, so its clean start proves nothing.
func armedBy(profile fixture.Profile, pipeBytes int) (string, bool) {
	if profile.BPFBytes > pipeBytes {
		return "", true
	}
	return fmt.Sprintf("the %s profile compiles to %d bytes, which fits the %d-byte pipe the containers had: the trigger was not armed, so no hang proves nothing "+
		"(use profile=large, or a kernel with 1-page pipes)", profile.Name, profile.BPFBytes, pipeBytes), false
}

// decide turns the attempts into a result. Only a classified deadlock
// counts as REPRODUCED; only containers that really ran with the trigger in
// force count as NOT REPRODUCED.
func decide(outcomes []*runckit.Outcome, planned int, profile fixture.Profile) (report.Result, string, error) {
	if len(outcomes) == 0 {
		return report.Inconclusive, "no container was created with the trigger armed", nil
	}
	var ran, small, seenSize, largest int
	var failures []string
	for _, o := range outcomes {
		if o.Finding != nil {
			return report.Reproduced, fmt.Sprintf("attempt %d of %d: %s", o.Record.N, planned, o.Finding.Summary), nil
		}
		if o.Started {
			ran++
			if o.Init.PipeSize > 0 && o.Init.PipeSize <= unprivilegedPipeBytes {
				small++
				seenSize = o.Init.PipeSize
				largest = max(largest, o.Init.PipeSize)
			}
		} else {
			failures = append(failures, fmt.Sprintf("attempt %d: %s", o.Record.N, o.Failure))
		}
	}
	if len(failures) > 0 {
		return report.Inconclusive, strings.Join(failures, "; "), nil
	}
	if small < ran {
		return report.Inconclusive, fmt.Sprintf("only %d of %d containers saw shrunk pipes: the soft limit was not in force for them", small, ran), nil
	}
	if reason, armed := armedBy(profile, largest); !armed {
		return report.Inconclusive, reason, nil
	}
	return report.NotReproduced, fmt.Sprintf("%d of %d containers started with a %d-byte seccomp filter while their own pipes held %d bytes: runc loaded the filter without hanging",
		ran, len(outcomes), profile.BPFBytes, seenSize), nil
}
