package containerdbugs

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"time"

	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/ctrdkit"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// containerd#7496 (and #8931, the same bug): when the shim's umount of a
// sandbox's rootfs takes longer than the CRI plugin's 10 s for deleting a
// task (a host under IO pressure), the plugin gives up, the shim finishes
// the delete anyway, the plugin's retry finds no task and marks the
// sandbox stopped, and nothing ever shuts the shim down: it outlives
// RemovePodSandbox. The IO pressure is strace delaying the shim's umount2,
// as upstream's regression test does; only relapse's own shim is traced,
// and relapse kills it afterwards.
func init() { kit.Register(containerd7496) }

//go:embed containerd-7496
var containerd7496Fixtures embed.FS

var containerd7496 = &kit.Bug{
	ID:      "containerd#7496",
	Aliases: []string{"containerd-8931"},
	Fix:     []string{"containerd#9003", "containerd#8954", "containerd#9004"},
	Title:   "containerd < 1.7.4: a shim whose umount is slow keeps running after RemovePodSandbox",
	Summary: "The CRI plugin deletes an exited sandbox's task with a 10 s timeout. When the shim's umount2 of the rootfs takes " +
		"longer (IO pressure: the umount syncs the file system), the plugin's call is cancelled, but the shim finishes the " +
		"delete and forgets the task; the plugin's retry gets NotFound, marks the sandbox stopped, and never calls the tasks " +
		"service's Delete that shuts the shim down. RemovePodSandbox succeeds and the shim leaks. containerd 1.7.4 (#9003, the " +
		"backport of #8954; 1.6.24 by #9004) calls the tasks service's Delete on NotFound, which shuts the shim down.",
	Links: []report.Link{
		{Title: "containerd/containerd#7496: shim process leaked when the host having high disk i/o usage", URL: "https://github.com/containerd/containerd/issues/7496"},
		{Title: "containerd/containerd#8931: Containerd-Shim leak when creating/delete pod frequently (the same bug)", URL: "https://github.com/containerd/containerd/issues/8931"},
		{Title: "containerd/containerd#9003: [release/1.7] fix leaked shim caused by high IO pressure (the fix, v1.7.4)", URL: "https://github.com/containerd/containerd/pull/9003"},
		{Title: "containerd/containerd#8954: fix leaked shim caused by high IO pressure (the fix on main)", URL: "https://github.com/containerd/containerd/pull/8954"},
		{Title: "containerd/containerd#9004: [release/1.6] the same fix (v1.6.24)", URL: "https://github.com/containerd/containerd/pull/9004"},
	},
	Component:    "containerd",
	LastAffected: "1.7.3",
	FirstFixed:   "1.7.4",
	Revert:       "revert-9003-v1.7.4.patch",
	Fixtures:     containerd7496Fixtures,
	Slow:         true,
	Needs:        []string{ctrdkit.NeedCRI},
	Params: []scenario.Param{
		scenario.DurationParam("umount-delay", "12s", false, "how long strace delays each of the shim's umount2 calls (upstream's test: 12 s, past the CRI plugin's 10 s)"),
	},
	Sampling: report.Sampling{Deterministic: true,
		Why:   "the delay is injected, not raced: every umount2 of the traced shim outlasts the plugin's 10 s",
		Fresh: "a fresh containerd with CRI, one pod sandbox per side (~40 s with the delay)"},
	Control:  podTeardown,
	Trigger:  podTeardown,
	Classify: classify7496,
	Examples: containerd7496Examples(),
}

// podTeardown runs a pod sandbox, delays its shim's umount2 when armed,
// stops and removes it as kubelet does (retrying until RemovePodSandbox
// succeeds), and waits for the shim to exit: within the create-timeout
// for the control, and for the trigger three times the delay plus ten
// times the control's own wait.
func podTeardown(ctx context.Context, r *kit.Run) (kit.Observation, error) {
	k, env, name := ctrdkit.Of(r), r.Env, "control"
	bound := env.Params.Duration("create-timeout")
	if r.Armed() {
		name = "trigger"
		gone, err := time.ParseDuration(r.ControlSaw().Fact("shim gone after"))
		if err != nil {
			return kit.Observation{Failure: "the control measured no shim exit"}, nil
		}
		bound = 3*env.Params.Duration("umount-delay") + 10*gone
	}
	id, _, err := k.RunPod(ctx, name)
	if err != nil {
		return kit.Observation{Failure: err.Error()}, nil
	}
	shim, ok, err := k.ShimOf(ctx, id)
	if err != nil || !ok {
		return kit.Observation{Failure: fmt.Sprintf("no shim found for sandbox %s: %v", id, err)}, nil
	}
	var delay *chaos.StraceArmed
	if r.Armed() {
		if delay, err = k.DelaySyscall(ctx, shim.PID, "umount2", env.Params.Duration("umount-delay")); err != nil {
			return kit.Observation{Failure: err.Error()}, nil
		}
	}
	began, attempts := time.Now(), 0
	err = poll.Within(ctx, 3*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		attempts++
		if _, err := k.CRI.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			return false, nil
		}
		_, err := k.CRI.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: id})
		return err == nil, nil
	})
	r.Script("until "+k.Crictl("stopp", "$POD")+" && "+k.Crictl("rmp", "$POD")+"; do sleep 1; done",
		fmt.Sprintf("sleep %.0f; ps -o pid,args -p %s  # a shim still listed here leaked", bound.Seconds(), ctrdkit.ShimOfPodInScript))
	if err != nil {
		return kit.Observation{Failure: fmt.Sprintf("StopPodSandbox and RemovePodSandbox did not both succeed within 3 min (%d attempts): %v", attempts, err)}, nil
	}
	removed := time.Now()
	err = poll.Within(ctx, bound, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		_, alive, err := k.ShimOf(ctx, id)
		return !alive, err
	})
	obs := kit.Ran("shim", strconv.Itoa(shim.PID), "removed after", time.Since(began).Round(time.Millisecond).String(),
		"attempts", strconv.Itoa(attempts), "bound", bound.String())
	switch err {
	case nil:
		obs.Facts["shim gone after"] = time.Since(removed).Round(time.Millisecond).String()
	case poll.ErrDeadline:
		obs.Facts["shim alive after"] = time.Since(removed).Round(time.Millisecond).String()
		env.DeferCleanup(fmt.Sprintf("kill the leaked shim (pid %d)", shim.PID), func(ctx context.Context) error {
			return env.Node.Kill(ctx, shim.PID, 9)
		})
	default:
		return kit.Observation{Failure: "watching the shim: " + err.Error()}, nil
	}
	if delay != nil {
		// The trigger was in force only if a umount2 was delayed.
		obs.Facts["delayed umounts"] = strconv.Itoa(delay.Calls(ctx))
	}
	return obs, nil
}

// classify7496: REPRODUCED when the sandbox's shim outlived
// RemovePodSandbox by the bound while the control's shim exited.
func classify7496(control, trigger kit.Observation) kit.Verdict {
	if control.Fact("shim gone after") == "" {
		return kit.Verdict{Result: report.Inconclusive, Reason: "the control's shim, without the delay, did not exit after RemovePodSandbox: it would leak anyway"}
	}
	switch {
	case !trigger.Ran:
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's pod did not run through: " + trigger.Failure}
	case trigger.Fact("delayed umounts") == "0":
		return kit.Verdict{Result: report.Inconclusive, Reason: "strace delayed no umount2 of the shim: the slow umount never happened, so what its shim did proves nothing"}
	case trigger.Fact("shim alive after") != "":
		return kit.Verdict{Result: report.Reproduced, Kind: "shim-leaked",
			Reason: fmt.Sprintf("the sandbox's shim (pid %s) still ran %s after RemovePodSandbox returned", trigger.Fact("shim"), trigger.Fact("shim alive after")),
			Reasons: []string{
				fmt.Sprintf("strace delayed %s umount2 calls of the sandbox's shim, each past the CRI plugin's 10 s task delete", trigger.Fact("delayed umounts")),
				fmt.Sprintf("StopPodSandbox and RemovePodSandbox succeeded after %s (%s attempts)", trigger.Fact("removed after"), trigger.Fact("attempts")),
				fmt.Sprintf("the shim was still running %s later (the bound: 3 x the delay + 10 x the control's %s)", trigger.Fact("shim alive after"), control.Fact("shim gone after")),
			}}
	}
	return kit.Verdict{Result: report.NotReproduced, Reason: fmt.Sprintf("the sandbox's shim exited %s after RemovePodSandbox although strace delayed %s of its umount2 calls (StopPodSandbox and RemovePodSandbox took %s)",
		trigger.Fact("shim gone after"), trigger.Fact("delayed umounts"), trigger.Fact("removed after"))}
}

// containerd7496Examples is the verdict table Classify must reach.
func containerd7496Examples() []kit.Example {
	control := kit.Ran("shim", "100", "shim gone after", "150ms")
	return []kit.Example{
		kit.Expect("1.7.3: the shim leaked", control, kit.Ran("shim", "200", "shim alive after", "37.5s", "attempts", "2", "delayed umounts", "2"), report.Reproduced, "still ran"),
		kit.Expect("1.7.4: the shim shut down", control, kit.Ran("shim", "200", "shim gone after", "3s", "delayed umounts", "2"), report.NotReproduced, "although strace delayed 2"),
		kit.Expect("no umount was delayed", control, kit.Ran("shim", "200", "shim alive after", "37s", "delayed umounts", "0"), report.Inconclusive, "proves nothing"),
		kit.Expect("the control's shim stayed", kit.Ran("shim", "100", "shim alive after", "20s"), kit.Ran("shim alive after", "37s"), report.Inconclusive, "leak anyway"),
		kit.Expect("the pod never went away", control, kit.Observation{Failure: "StopPodSandbox and RemovePodSandbox did not both succeed"}, report.Inconclusive, "did not run through"),
	}
}
