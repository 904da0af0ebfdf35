package containerdbugs

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/ctrdkit"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/measure"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// containerd#10036: containerd 1.7.14's shim (#9928, the 1.7 backport of
// #9828) holds back the exits of a container's processes while an exec of
// it is starting, to publish the init's exit after its execs'; it held
// back exec exits too, and nothing published those later. Concurrent
// execs into one task lose exits: their clients wait forever and no
// TaskExit is ever sent. Only relapse's own task is exec'd into.
func init() { kit.Register(containerd10036) }

//go:embed containerd-10036
var containerd10036Fixtures embed.FS

var containerd10036 = &kit.Bug{
	ID:    "containerd#10036",
	Fix:   []string{"containerd#10037", "containerd#9999", "containerd#10038"},
	Title: "containerd 1.7.14: concurrent execs into one task hang, their exits never published",
	Summary: "containerd 1.7.14's runc shim (#9928, the backport of #9828) skips, in processExits, the exits of a container's " +
		"processes while one of its execs is pending, so that the pending exec's handleStarted publishes the init's exit after " +
		"the exec's. It skipped every process's exit, not only the init's: with concurrent execs into one container an exec " +
		"that exits while another is starting has its exit dropped. The client's Wait never returns (kubectl exec, exec " +
		"probes, `ctr t exec` hang) and no TaskExit is published. containerd 1.7.15 (#10037, the backport of #9999) skips " +
		"only the init's exit. The 1.6 line had the same change (#9927 in 1.6.30) and fix (#10038 in 1.6.31).",
	Links: []report.Link{
		{Title: "containerd/containerd#10036: container exec may hang on containerd version 1.7.14", URL: "https://github.com/containerd/containerd/issues/10036"},
		{Title: "containerd/containerd#10037: [release/1.7] Fix runc shim to only defer init process exits (the fix, v1.7.15)", URL: "https://github.com/containerd/containerd/pull/10037"},
		{Title: "containerd/containerd#9999: runc-shim: only defer init process exits (the fix on main)", URL: "https://github.com/containerd/containerd/pull/9999"},
		{Title: "containerd/containerd#9928: [release/1.7] runc-shim: process exec exits before init (the regression, v1.7.14)", URL: "https://github.com/containerd/containerd/pull/9928"},
		{Title: "containerd/containerd#10058: ctr exec hang when use containerd 1.6.31 (the 1.6 line)", URL: "https://github.com/containerd/containerd/issues/10058"},
	},
	Component:     "containerd",
	FirstAffected: "1.7.14",
	IntroducedBy:  "containerd#9928",
	LastAffected:  "1.7.14",
	FirstFixed:    "1.7.15",
	Revert:        "revert-10037-v1.7.15.patch",
	Fixtures:      containerd10036Fixtures,
	Slow:          true,
	Params: []scenario.Param{
		scenario.IntParam("execs", 30, 2, 200, "execs started at once into the one task, per round (upstream's reproducer: 30)"),
		scenario.IntParam("rounds", 10, 1, 100, "bound: rounds before the trigger ends with every exit published"),
	},
	Sampling: report.Sampling{RuleOut: 0.7,
		Why:   "a lost exit is a race between one exec's exit and another's start; rounds of 30 concurrent execs lose one within the first rounds on 1.7.14",
		Fresh: "a fresh containerd with its own root, one task, and up to 10 rounds of 30 concurrent execs into it"},
	Control: func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return execRounds(ctx, r, 1, 5) },
	Trigger: func(ctx context.Context, r *kit.Run) (kit.Observation, error) {
		return execRounds(ctx, r, r.Env.Params.Int("execs"), r.Env.Params.Int("rounds"))
	},
	Classify: classify10036,
	Examples: containerd10036Examples(),
}

// execRounds starts a task and runs rounds of n execs at once into it
// (/init, which reports and exits) until an exec's exit does not come
// within the deadline. The control runs them one at a time within the
// create-timeout; the trigger's deadline derives from the control's
// slowest exec: four times it per exec in flight (a loaded machine runs
// them one after another), and never less than 10 s.
func execRounds(ctx context.Context, r *kit.Run, n, rounds int) (kit.Observation, error) {
	k, name := ctrdkit.Of(r), "control"
	deadline := r.Env.Params.Duration("create-timeout")
	if r.Armed() {
		name = "trigger"
		slowest, err := time.ParseDuration(r.ControlSaw().Fact("slowest"))
		if err != nil {
			return kit.Observation{Failure: "the control measured no exec latency: " + r.ControlSaw().Fact("slowest")}, nil
		}
		deadline = max(10*time.Second, time.Duration(4*n)*slowest)
	}
	task, err := k.Task(ctx, name)
	if err != nil {
		return kit.Observation{Failure: err.Error()}, nil
	}
	exits := k.WatchExits(ctx)
	var took measure.Latencies
	var hung []string
	execs, lost, alive := 0, 0, 0
	for round := 1; round <= rounds && len(hung) == 0; round++ {
		prefix := fmt.Sprintf("%s-%d", name, round)
		r.Script(fmt.Sprintf("for i in $(seq 1 %d); do timeout %.0f %s & done; wait  # exit 124: an exec whose exit never came",
			n, deadline.Seconds(), k.Ctr("task", "exec", "--exec-id", prefix+"-$i", name, "/init")))
		outcomes, err := k.ExecStorm(ctx, task, prefix, n, deadline, "/init")
		if err != nil {
			return kit.Observation{Failure: err.Error()}, nil
		}
		for _, o := range outcomes {
			execs++
			switch {
			case o.Exited:
				took.Add(o.Took)
				continue
			case o.PID == 0:
				return kit.Observation{Failure: fmt.Sprintf("exec %s did not start: %v", o.ID, o.Err)}, nil
			case o.Alive:
				alive++
			case !exits.Seen(o.ID):
				lost++
			}
			hung = append(hung, fmt.Sprintf("%s: pid %d, %v, process still running: %t, TaskExit published: %t", o.ID, o.PID, o.Err, o.Alive, exits.Seen(o.ID)))
		}
	}
	obs := kit.Ran("execs", strconv.Itoa(execs), "hung", strconv.Itoa(len(hung)), "lost", strconv.Itoa(lost), "alive", strconv.Itoa(alive),
		"slowest", took.Percentile(100).String(), "deadline", deadline.String(), "concurrent", strconv.Itoa(n))
	if len(hung) > 0 {
		obs.Facts["hung execs"] = strings.Join(hung, "\n")
	}
	if err := exits.Err(); err != nil {
		obs.Facts["events"] = "the event subscription ended: " + err.Error()
	}
	return obs, nil
}

// classify10036: REPRODUCED when an exec's process is gone but containerd
// neither answered its client's wait nor published its TaskExit, while the
// control's execs, one at a time, all exited.
func classify10036(control, trigger kit.Observation) kit.Verdict {
	if control.Fact("hung") != "0" {
		return kit.Verdict{Result: report.Inconclusive, Reason: "the control's execs, one at a time, did not all exit: " + control.Fact("hung execs")}
	}
	switch {
	case !trigger.Ran:
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger did not run its execs: " + trigger.Failure}
	case trigger.Fact("events") != "":
		return kit.Verdict{Result: report.Inconclusive, Reason: trigger.Fact("events") + ": a missing TaskExit would prove nothing"}
	case trigger.Fact("lost") != "0":
		return kit.Verdict{Result: report.Reproduced, Kind: "exec-exit-lost",
			Reason: fmt.Sprintf("%s of %s concurrent execs never got their exit: the process is gone, no TaskExit was published, the client waits", trigger.Fact("lost"), trigger.Fact("execs")),
			Reasons: []string{
				fmt.Sprintf("rounds of %s execs at once into one task; each waited for its exit up to %s (from the control's slowest exec, %s)", trigger.Fact("concurrent"), trigger.Fact("deadline"), control.Fact("slowest")),
				"an exec past the deadline whose process is no longer on the node: it exited, and containerd did not say so",
				"no /tasks/exit event for it on containerd's event stream",
			}}
	case trigger.Fact("hung") != "0":
		return kit.Verdict{Result: report.Inconclusive, Reason: fmt.Sprintf("%s execs outlived the %s deadline but their processes still ran or their exit was published: slow, not lost", trigger.Fact("hung"), trigger.Fact("deadline"))}
	}
	return kit.Verdict{Result: report.NotReproduced, Reason: fmt.Sprintf("%s execs, %s at a time, all exited and were reported (slowest %s)", trigger.Fact("execs"), trigger.Fact("concurrent"), trigger.Fact("slowest"))}
}

// containerd10036Examples is the verdict table Classify must reach.
func containerd10036Examples() []kit.Example {
	control := kit.Ran("execs", "5", "hung", "0", "slowest", "80ms")
	clean := kit.Ran("execs", "300", "hung", "0", "lost", "0", "concurrent", "30", "slowest", "2s")
	return []kit.Example{
		kit.Expect("1.7.14: an exit lost", control, kit.Ran("execs", "60", "hung", "1", "lost", "1", "concurrent", "30", "deadline", "10s"), report.Reproduced, "never got their exit"),
		kit.Expect("1.7.15: every exit reported", control, clean, report.NotReproduced, "all exited"),
		kit.Expect("slow, still running", control, kit.Ran("execs", "30", "hung", "2", "lost", "0", "alive", "2"), report.Inconclusive, "slow, not lost"),
		kit.Expect("the events stopped", control, kit.Ran("hung", "1", "lost", "1", "events", "the event subscription ended: EOF"), report.Inconclusive, "would prove nothing"),
		kit.Expect("the control hung", kit.Ran("hung", "1", "hung execs", "control-1-1"), clean, report.Inconclusive, "one at a time"),
		kit.Expect("the trigger failed", control, kit.Observation{Failure: "exec trigger-1-3 did not start"}, report.Inconclusive, "did not start"),
	}
}
