package runcpipehang

import (
	"embed"
	"fmt"
	"strconv"

	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// containerd#5261, the seed bug, declared with the kit: the control is
// one container at the host's own pipe limit, the trigger lowers
// fs.pipe-user-pages-soft and creates containers whose seccomp filter
// overfills a shrunk pipe while the pipe-deadlock detector watches their
// `runc init` (trigger.go); bare runc, or through dockerd or containerd
// (engines.go).
func init() { kit.Register(Declaration) }

//go:embed containerd-5261
var fixtures embed.FS

// Declaration is the bug as the kit holds it; the Kubernetes variant
// (runcpipehangk8s) shares its preconditions and sampling.
var Declaration = &kit.Bug{
	ID: "containerd#5261",
	// The name it had before the kit: `make repro RUNC=rc93` and scripts use it.
	Aliases: []string{"runc-pipe-hang"},
	Fix:     []string{"runc#2871"},
	Title:   "runc v1.0.0-rc93: runc init hangs exporting its seccomp filter into a pipe it reads only afterwards",
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
	Component:     "runc",
	FirstAffected: "1.0.0-rc93",
	IntroducedBy:  "runc#2750 added libcontainer/seccomp/patchbpf",
	LastAffected:  "1.0.0-rc93",
	FirstFixed:    "1.0.0-rc94",
	Revert:        "revert-2871-v1.0.0-rc94.patch",
	Fixtures:      fixtures,
	// Inside a VM node only the guest's limit moves (README "Nodes").
	Nodes: []string{"local", "qemu", "vagrant"},
	Sampling: report.Sampling{Deterministic: true,
		Why: "rc93 writes the whole filter with one write(2) before reading; with a filter larger than the pipe and nobody else " +
			"holding the read end, the kernel blocks that write every time, so a container that ran while its own pipes were " +
			"shrunk proves the runc under test does not hang",
		Fresh: "a new bundle and containers in a fresh runc state root (~1 s); with ENGINE=docker or containerd a fresh daemon too (~3-6 s)"},
	Params: []scenario.Param{
		scenario.ChoiceParam("profile", fixture.ProfileLarge,
			"seccomp profile: large (compiles past 8192 bytes) or docker-default (fits on kernels with 2-page pipes; shows the trigger is not armed)",
			fixture.ProfileDockerDefault, fixture.ProfileLarge),
		scenario.IntParam("attempts", 1, 1, 100, "containers to create with the trigger armed in one repetition; it stops at the first hang (the hang is deterministic: one decides)"),
		scenario.IntParam("soft-limit", 1, 0, 1<<30, "value written to fs.pipe-user-pages-soft while the trigger is armed"),
		scenario.StringParam("engine", "runc", engineHelp, validEngine),
		scenario.DurationParam("hold", "0s", true, "keep the stuck runc init this long after detection (for strace/gdb by hand) before cleaning up"),
		scenario.BoolParam("baseline", true, "first start one container without the trigger, to prove the bundle itself works "+
			"(false: the verdict rests on the trigger's containers alone, their own pipes showing the limit was in force)"),
	},
	Hooks: kit.Hooks{
		Claims: claims,
		// engine=containerd drives Debian's containerd unless a version is given.
		Optional:      []versions.Builder{versions.ContainerdRecipe},
		Supports:      []scenario.Support{scenario.RuncBuildable, scenario.ContainerdBuildable},
		Preconditions: Preconditions,
		CheckPlan:     checkPlan,
		Sysctls:       []string{SoftLimitKey},
		// The detector's finding holds the stuck init's /proc snapshot.
		FindingBy: (&pipewrite.Detector{}).Name(),
	},
	Control:  control,
	Trigger:  trigger,
	Classify: classify,
	Examples: examples(),
}

// Name is the bug's name on the command line; Bug its report record,
// which the suites label specs with.
var (
	Name = Declaration.Name()
	Bug  = Declaration.Report()
)

// The trigger's facts (Observation.Facts), as trigger.go records them.
const (
	factHang     = "hang"     // the detector's summary of the stuck init
	factHangAt   = "hang-at"  // which start hung ("attempt 2 of 3", "docker start 1 of 5")
	factFailed   = "failed"   // starts that failed otherwise, each with why
	factStuck    = "stuck"    // a start that did not return, unclassified
	factTried    = "tried"    // starts made with the trigger armed
	factStarted  = "started"  // of them, those whose container ran
	factShrunk   = "shrunk"   // of them, those whose own pipes were shrunk
	factPipe     = "pipe"     // the largest shrunk pipe they had, bytes
	factFilter   = "filter"   // the compiled filter, bytes
	factProfile  = "profile"  // the profile's name
	factStarting = "starting" // what a start was: "containers", "docker starts"
)

// classify: only a classified deadlock is REPRODUCED; only containers
// that ran with the trigger in force, with a filter larger than their
// own pipes, are NOT REPRODUCED.
func classify(_, t kit.Observation) kit.Verdict {
	inconclusive := func(format string, args ...any) kit.Verdict {
		return kit.Verdict{Result: report.Inconclusive, Reason: fmt.Sprintf(format, args...)}
	}
	num := func(name string) int { n, _ := strconv.Atoi(t.Fact(name)); return n }
	tried, started, shrunk, pipe, filter := num(factTried), num(factStarted), num(factShrunk), num(factPipe), num(factFilter)
	switch {
	case t.Fact(factHang) != "":
		return kit.Verdict{Result: report.Reproduced, Reason: t.Fact(factHangAt) + ": " + t.Fact(factHang),
			Kind: pipewrite.Kind, Reasons: []string{t.Fact(factHang)}}
	case !t.Ran:
		return inconclusive("the trigger did not finish: %s", t.Failure)
	case t.Fact(factFailed) != "":
		return inconclusive("%s", t.Fact(factFailed))
	case t.Fact(factStuck) != "":
		return inconclusive("a start did not return but the detector did not classify the stall: %s", t.Fact(factStuck))
	case tried == 0:
		return inconclusive("no container was created with the trigger armed")
	case shrunk < started:
		return inconclusive("only %d of %d containers saw shrunk pipes: the soft limit was not in force for them", shrunk, started)
	case filter <= pipe:
		return inconclusive("the %s profile compiles to %d bytes, which fits the %d-byte pipe the containers had: the trigger was not armed, so no hang proves nothing "+
			"(use profile=large, or a kernel with 1-page pipes)", t.Fact(factProfile), filter, pipe)
	}
	return kit.Verdict{Result: report.NotReproduced, Reason: fmt.Sprintf("%d of %d %s with a %d-byte seccomp filter while their own pipes held %d bytes: runc loaded the filter without hanging",
		started, tried, t.Fact(factStarting), filter, pipe)}
}

// examples are the verdict table: what the trigger's starts showed, and
// what that decides.
func examples() []kit.Example {
	ran := kit.Ran()
	armed := func(kv ...string) kit.Observation {
		return kit.Ran(append([]string{factTried, "3", factStarted, "3", factShrunk, "3", factPipe, "8192", factFilter, "13080",
			factProfile, fixture.ProfileLarge, factStarting, "containers started"}, kv...)...)
	}
	const hang = "pid 4242 (runc:[2:INIT]) is blocked writing 13080 bytes into an 8192-byte pipe (pipe:[11045]) whose only read end it holds itself"
	return []kit.Example{
		kit.Expect("a classified deadlock reproduces", ran, armed(factHang, hang, factHangAt, "attempt 2 of 3"), report.Reproduced, "attempt 2 of 3: pid 4242"),
		kit.Expect("the deadlock wins over an earlier failure", ran, armed(factHang, hang, factHangAt, "attempt 2 of 2", factFailed, "attempt 1: runc create failed"),
			report.Reproduced, "attempt 2 of 2"),
		kit.Expect("every container ran with shrunk pipes and an overfilling filter", ran, armed(), report.NotReproduced,
			"3 of 3 containers started with a 13080-byte seccomp filter while their own pipes held 8192 bytes"),
		kit.Expect("1-page pipes of older kernels count as shrunk", ran, armed(factPipe, "4096"), report.NotReproduced, "held 4096 bytes"),
		kit.Expect("a filter that fits the pipe did not arm the trigger", ran, armed(factFilter, "7648", factProfile, fixture.ProfileDockerDefault),
			report.Inconclusive, "fits the 8192-byte pipe"),
		kit.Expect("Docker's default profile overfills a 1-page pipe", ran, armed(factFilter, "7648", factPipe, "4096"), report.NotReproduced, "7648-byte"),
		kit.Expect("a failed start decides nothing", ran, armed(factFailed, "attempt 1: runc create failed: exit status 1"), report.Inconclusive, "exit status 1"),
		kit.Expect("a failure outranks a filter that fits", ran, armed(factFailed, "attempt 1: x", factFilter, "100"), report.Inconclusive, "attempt 1: x"),
		kit.Expect("an unclassified stall decides nothing", ran, armed(factStuck, "start 2 did not return in 20s"), report.Inconclusive, "did not classify"),
		kit.Expect("some containers saw full-size pipes", ran, armed(factShrunk, "2"), report.Inconclusive, "only 2 of 3"),
		kit.Expect("no start with the trigger armed", ran, kit.Ran(factTried, "0"), report.Inconclusive, "no container was created"),
		kit.Expect("a trigger that did not run", ran, kit.Observation{Failure: "lowering the limit failed"}, report.Inconclusive, "lowering the limit failed"),
		kit.Expect("a control that did not run decides nothing", kit.Observation{Failure: "runc create failed"}, armed(), report.Inconclusive, "control"),
	}
}
