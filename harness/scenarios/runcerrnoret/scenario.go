package runcerrnoret

import (
	"context"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Name is the scenario's name on the command line.
const Name = "runc-seccomp-errnoret"

// Scenario is runc ignoring seccomp errnoRet (cri-o#4491, runc#2424).
type Scenario struct{}

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string { return Name }

// Bug is exported for the suites, which label specs with it.
var Bug = report.Bug{
	ID:    "cri-o#4491",
	Fix:   "runc#2424",
	Title: "runc before v1.0.0-rc91 ignores seccomp errnoRet: a profile's clone3 -> ENOSYS rule equals the default action and the container cannot start",
	Summary: "OCI seccomp rules may carry errnoRet, the errno a denied syscall returns. runc before v1.0.0-rc91 dropped it, so " +
		"clone3 -> SCMP_ACT_ERRNO with errnoRet 38 (ENOSYS, in Docker's, containerd's and containers/common's default profiles " +
		"since 2021) became SCMP_ACT_ERRNO with EPERM, the profile's default action. libseccomp refuses a rule equal to the " +
		"default action (\"requested action matches default action of filter\"; libseccomp 2.5 reports EACCES, which old " +
		"libseccomp-golang prints as \"permission denied\"), so `runc create` fails and CRI-O's pods stay in ContainerCreating. " +
		"runc#2424 (v1.0.0-rc91) passes errnoRet to libseccomp.",
	Links: []report.Link{
		{Title: "cri-o/cri-o#4491: crio v1.20 support for k3s and calico on centos7 (the seed's pods in ContainerCreating)", URL: "https://github.com/cri-o/cri-o/issues/4491"},
		{Title: "opencontainers/runc#2424: libcontainer: honor seccomp errnoRet (the fix, v1.0.0-rc91)", URL: "https://github.com/opencontainers/runc/pull/2424"},
		{Title: "containerd/containerd#6203: error adding seccomp filter rule for syscall clone3: permission denied (old runc with the clone3 rule)", URL: "https://github.com/containerd/containerd/issues/6203"},
		{Title: "containerd/containerd#5982: seccomp: support clone3 (return ENOSYS unless SYS_ADMIN is granted)", URL: "https://github.com/containerd/containerd/pull/5982"},
		{Title: "cri-o/cri-o#5117: requested action matches default action of filter (a related failure: rules equal to the default action, skipped since runc v1.0.2)", URL: "https://github.com/cri-o/cri-o/issues/5117"},
		{Title: "containerd/nerdctl#414: error adding seccomp filter rule for syscall clone3: permission denied (fixed by a newer runc)", URL: "https://github.com/containerd/nerdctl/issues/414"},
	},
	Component:  "runc",
	Affected:   "< 1.0.0-rc91",
	Introduced: "always: runc had no errnoRet before the OCI runtime spec added it",
	Fixed:      "v1.0.0-rc91 (runc#2424 passes errnoRet to libseccomp)",
}

func (Scenario) Bug() report.Bug { return Bug }

// Sampling: libseccomp refuses the rule every time.
func (Scenario) Sampling() report.Sampling {
	return report.Sampling{Deterministic: true,
		Why:   "libseccomp checks every rule against the default action when runc adds it, the same way on every start: one container decides",
		Fresh: "two new bundles and containers in a fresh runc state root (~1 s); with ENGINE=podman a fresh podman storage root too (~2 s)"}
}

func (Scenario) Components() []versions.Builder { return []versions.Builder{versions.RuncRecipe} }

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		scenario.ChoiceParam("engine", "runc",
			"runc: bare runc create/start with Docker's default profile; podman: podman run with conmon (Debian's) and podman's own default profile, the runc under test as its runtime",
			"runc", "podman"),
		scenario.DurationParam("create-timeout", "20s", false, "how long one container start may take before the attempt ends unclassified"),
	}
}

// profiles derives the control's profile (full without its errnoRet
// rules that share the default action) and returns those rules; the
// trigger runs full itself.
func profiles(full *specs.LinuxSeccomp) (control *specs.LinuxSeccomp, errnoRules []specs.LinuxSyscall) {
	c := *full
	c.Syscalls = nil
	for _, r := range full.Syscalls {
		if r.ErrnoRet != nil && r.Action == full.DefaultAction {
			errnoRules = append(errnoRules, r)
			continue
		}
		c.Syscalls = append(c.Syscalls, r)
	}
	return &c, errnoRules
}

// ruleSyscalls names the syscalls of rules.
func ruleSyscalls(rules []specs.LinuxSyscall) []string {
	var names []string
	for _, r := range rules {
		names = append(names, r.Names...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// describeRules renders rules as "clone3 -> SCMP_ACT_ERRNO errnoRet 38".
func describeRules(rules []specs.LinuxSyscall) string {
	var parts []string
	for _, r := range rules {
		parts = append(parts, fmt.Sprintf("%s -> %s errnoRet %d", strings.Join(r.Names, ","), r.Action, *r.ErrnoRet))
	}
	return strings.Join(parts, "; ")
}

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	if env.Params.String("engine") == "podman" {
		return runPodman(ctx, env)
	}
	kit, err := runckit.New(ctx, env, runckit.Options{DebugLog: true})
	if err != nil {
		return report.Inconclusive, "", err
	}
	spec := kit.Config(fixture.ConfigOptions{Args: []string{"/init", "probe=clone3"}})
	profile, err := fixture.LoadProfile(fixture.ProfileDockerDefault, spec)
	if err != nil {
		return report.Inconclusive, "", err
	}
	with := profile.Seccomp
	control, rules := profiles(with)
	if len(rules) == 0 {
		return report.Inconclusive, "Docker's default profile for this container has no errnoRet rule equal in action to its default: nothing to trigger", nil
	}
	env.Condition("seccomp profile", profile.Description+", default action "+string(with.DefaultAction))
	env.Condition("errnoRet rules", describeRules(rules)+" (the only difference between the control bundle and the trigger bundle)")
	env.Condition("noNewPrivileges", "false, as in Kubernetes: runc loads the filter while its init pipe is open, so a failure reaches `runc create`")

	timeout := env.Params.Duration("create-timeout")
	bundles := map[string]*specs.Spec{}
	run := func(n int, name, label string, seccomp *specs.LinuxSeccomp) (*runckit.Outcome, error) {
		sp := kit.Config(fixture.ConfigOptions{Args: []string{"/init", "probe=clone3"}, Seccomp: seccomp})
		bundles[name] = sp
		dir, err := kit.Bundle(ctx, name, sp)
		if err != nil {
			return nil, err
		}
		if err := kit.SaveBundle(sp, name, label); err != nil {
			return nil, err
		}
		return kit.Try(ctx, runckit.Try{N: n, Bundle: dir, Timeout: timeout, Label: label}), nil
	}
	base, err := run(0, "control", "control: the same profile without its errnoRet rules", control)
	if err != nil {
		return report.Inconclusive, "", err
	}
	trig, err := run(1, "errnoret", "trigger: the profile with its errnoRet rules", with)
	if err != nil {
		return report.Inconclusive, "", err
	}
	script, err := manualSteps(kit.Art, bundles["control"], bundles["errnoret"], rules)
	if err != nil {
		return report.Inconclusive, "", err
	}
	env.Report.Reproduce = script
	return judge(env, outcome(ctx, kit, base), outcome(ctx, kit, trig), rules)
}

// start is what one container start showed, whatever drove it.
type start struct {
	started bool
	probes  map[string]int
	// output is the failing command's output (runc's or podman's error).
	output  string
	failure string
}

// outcome reads what runc said: `runc create` writes into the attempt's
// output file (its detached init keeps that open), not into the error.
func outcome(ctx context.Context, kit *runckit.Kit, o *runckit.Outcome) start {
	s := start{started: o.Started, probes: o.Init.Probes, failure: o.Failure}
	if o.Err != nil {
		s.output = o.Err.Error()
		if out, err := kit.Env.Node.ReadFile(ctx, kit.OutputFile(o.Record.N)); err == nil {
			s.output = strings.TrimSpace(string(out)) + "\n" + s.output
		}
	}
	return s
}

// judge decides from the two starts. REPRODUCED needs the control to run
// and the trigger to fail while runc loaded seccomp, naming a syscall of an
// errnoRet rule; NOT REPRODUCED needs the trigger to run and its clone3
// probe to return the rule's errno (the runc under test honoured it).
func judge(env *scenario.Env, base, trig start, rules []specs.LinuxSyscall) (report.Result, string, error) {
	if !base.started {
		return report.Inconclusive, "the control container (the same profile without its errnoRet rules) did not start: " +
			base.failure + "; this runc or bundle does not work here, so a failing trigger would prove nothing", nil
	}
	if trig.started {
		// Started is the proof: without their errno these rules equal the
		// default action, and libseccomp would have refused them. When a
		// rule covers the probed clone3, its errno inside is checked too.
		got, probed := trig.probes["clone3"]
		want := errnoFor(rules, "clone3")
		if want >= 0 {
			if !probed {
				return report.Inconclusive, "the trigger container ran but its init did not probe clone3", nil
			}
			if got != want {
				return report.Inconclusive, fmt.Sprintf("the trigger container ran, but clone3 returned errno %d, not the rule's errnoRet %d: the filter in force is not the profile's", got, want), nil
			}
			env.Condition("clone3 inside the trigger container", fmt.Sprintf("errno %d, the rule's errnoRet (the control container got %d)", got, base.probes["clone3"]))
			return report.NotReproduced, fmt.Sprintf("the container with errnoRet rules (%s) started, and clone3 inside it returned errno %d as its rule says: the runc under test honours errnoRet",
				describeRules(rules), got), nil
		}
		return report.NotReproduced, fmt.Sprintf("the container with errnoRet rules (%s) started: without their errno they equal the default action and libseccomp would have refused them, so the runc under test honours errnoRet",
			describeRules(rules)), nil
	}
	env.Evidence("what the runtime said when the trigger container failed", trig.output)
	f, notThis, ok := classifySeccompLoad(trig.output, rules)
	if !ok {
		return report.Inconclusive, "the trigger container did not start, and not from this bug: " + notThis + " (" + trig.failure + ")", nil
	}
	f.Reasons = append([]string{"the control container, the same bundle without the errnoRet rules, started and ran"}, f.Reasons...)
	env.Finding(f)
	return report.Reproduced, f.Summary, nil
}

// errnoFor is the errnoRet of the rule for syscall, or -1.
func errnoFor(rules []specs.LinuxSyscall, syscall string) int {
	for _, r := range rules {
		if slices.Contains(r.Names, syscall) && r.ErrnoRet != nil {
			return int(*r.ErrnoRet)
		}
	}
	return -1
}
