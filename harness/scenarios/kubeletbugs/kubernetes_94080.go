package kubeletbugs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

// Name is kubernetes#94080's name on the command line (kit.Bug.Name); the
// link generator reads it to name the scenario a lean build leaves out.
const Name = "kubernetes-94080"

// The probe both sides run, but for its command: a liveness probe that
// may take timeoutSeconds, tried every periodSeconds, failureThreshold
// failures in a row restarting the container.
const (
	probeTimeout   = 1 * time.Second
	probePeriod    = 2 * time.Second
	probeFailures  = 3
	terminateGrace = 2 * time.Second
	// slowProbe is what the trigger's probe runs: ten times its timeout.
	slowProbe = "10"
)

// restartNeeds is how long a kubelet that honours timeoutSeconds needs at
// most, from the container's start, to restart it: probeFailures probes,
// each cut at its timeout, then the grace period of the kill.
const restartNeeds = probeFailures*(probePeriod+probeTimeout) + terminateGrace

// window is how long each side's pod is watched: three times restartNeeds
// (kubelet's probe workers and the runtime's exec run late on a loaded
// node) plus four times what the control's pod took to be Ready on this
// node (the restarted container must start again). Scaled from the run's
// own measurement, never a fixed wall-clock bound.
func window(controlReady time.Duration) time.Duration {
	return 3*restartNeeds + 4*controlReady
}

func init() {
	kit.Register(&kit.Bug{
		ID:    "kubernetes#94080",
		Fix:   []string{"kubernetes#94115"},
		Title: "kubelet ignores an exec probe's timeoutSeconds: a liveness probe that runs past it never fails",
		Summary: "Before 1.20 kubelet did not count an exec probe that ran past its timeoutSeconds as failed. With " +
			"dockershim the probe ran to its end and its exit status counted; with a CRI runtime such as containerd the " +
			"runtime cut the probe at the timeout and answered DeadlineExceeded, which kubelet took as a probe error and " +
			"threw away (\"Liveness probe errored\"). Either way a liveness probe that hangs never restarts the container " +
			"and a readiness probe never marks it unready. kubernetes#94115 (1.20.0) makes a timed-out exec probe a " +
			"failure, behind the ExecProbeTimeout feature gate (GA and on from 1.20, locked on from 1.35) so that " +
			"clusters relying on the old behaviour could turn it off. Here a liveness probe `sleep 10` with " +
			"timeoutSeconds 1 keeps the pod Ready without restarts on an affected kubelet; a fixed one restarts it.",
		Links: []report.Link{
			{Title: "kubernetes/kubernetes#94080: exec-type liveness or readiness probes ignore timeout", URL: "https://github.com/kubernetes/kubernetes/issues/94080"},
			{Title: "kubernetes/kubernetes#94115: kubelet: respect exec probe timeouts (the fix, v1.20.0)", URL: "https://github.com/kubernetes/kubernetes/pull/94115"},
			{Title: "KEP-1972: Kubelet Exec Probe Timeouts (the ExecProbeTimeout gate)", URL: "https://github.com/kubernetes/enhancements/tree/master/keps/sig-node/1972-kubelet-exec-probe-timeouts"},
			{Title: "kubernetes/kubernetes#26895: Probe timeout ignored by ExecAction (the first report, 2016)", URL: "https://github.com/kubernetes/kubernetes/issues/26895"},
			{Title: "kubernetes/kubernetes#92464: exec probe timeout failures cannot trigger container restart (containerd)", URL: "https://github.com/kubernetes/kubernetes/issues/92464"},
			{Title: "kubernetes/kubernetes#100198: exec probes that exceed timeout always succeed with ExecProbeTimeout=false", URL: "https://github.com/kubernetes/kubernetes/issues/100198"},
		},
		Component: "kubernetes",
		// First reported in 2016 (kubernetes#26895): older than any
		// Kubernetes relapse builds.
		LastAffected: "1.19.16",
		FirstFixed:   "1.20.0",
		FixGate:      "ExecProbeTimeout",
		// GA and on from 1.20, LockToDefault from 1.35 (kubelet 1.37.2
		// panics reading a configuration that turns it off).
		FixGateLockedFrom: "1.35.0",
		Nodes:             []string{"local", "qemu"},
		// A cluster, and a Kubernetes build of about an hour cold.
		Slow: true,
		Sampling: report.Sampling{Deterministic: true,
			Why:   "kubelet's prober decides every probe the same way: a timed-out exec probe is a failure (fixed) or an error it throws away (affected); a window three times what a fixed kubelet needs to restart the container leaves the rule no room to differ",
			Fresh: "a fresh cluster (bare ~10 s) and two new pods watched for about a minute each"},
		Control:  probePod,
		Trigger:  probePod,
		Classify: classify94080,
		Examples: []kit.Example{
			kit.Expect("affected: the slow probe errors, the pod stays Ready without restarts",
				kit.Ran("ready-after", "3s", "restarts", "0", "not-ready", "0s", "window", "39s"),
				kit.Ran("restarts", "0", "not-ready", "0s", "window", "39s", "probe-failed", "0", "probe-errored", "12",
					"events", "Warning Unhealthy x12 kubelet: Liveness probe errored: rpc error: code = DeadlineExceeded desc = failed to exec in container: timeout 1s exceeded: context deadline exceeded"),
				report.Reproduced, "kept the pod Ready"),
			kit.Expect("affected through dockershim: the slow probe succeeds after 10 s, no event",
				kit.Ran("ready-after", "3s", "restarts", "0", "not-ready", "0s", "window", "39s"),
				kit.Ran("restarts", "0", "not-ready", "0s", "window", "39s", "probe-failed", "0", "probe-errored", "0"),
				report.Reproduced, "kept the pod Ready"),
			kit.Expect("fixed: the probe times out, fails three times, the container restarts",
				kit.Ran("ready-after", "3s", "restarts", "0", "not-ready", "0s", "window", "39s"),
				kit.Ran("restarts", "2", "not-ready", "4s", "window", "39s", "probe-failed", "7", "probe-errored", "0",
					"events", "Warning Unhealthy x7 kubelet: Liveness probe failed: command \"sleep 10\" timed out"),
				report.NotReproduced, "restarted the container 2 times"),
			kit.Expect("fixed, restart not yet seen: the failures are recorded",
				kit.Ran("ready-after", "3s", "restarts", "0", "not-ready", "0s", "window", "39s"),
				kit.Ran("restarts", "0", "not-ready", "0s", "window", "39s", "probe-failed", "2", "probe-errored", "0"),
				report.NotReproduced, "counted 2 timed-out probes as failures"),
			kit.Expect("the fast probe failed too: this node cannot run a 1 s probe",
				kit.Ran("ready-after", "3s", "restarts", "1", "not-ready", "6s", "window", "39s", "probe-failed", "3"),
				kit.Ran("restarts", "0", "not-ready", "0s", "window", "39s", "probe-failed", "0", "probe-errored", "12"),
				report.Inconclusive, "the control's fast probe"),
			kit.Expect("the trigger's pod never started",
				kit.Ran("ready-after", "3s", "restarts", "0", "not-ready", "0s", "window", "39s"),
				kit.Observation{Failure: "pod relapse-probe-slow not Ready after 2m0s"},
				report.Inconclusive, "did not start"),
			kit.Expect("Ready lost without a restart or a recorded failure",
				kit.Ran("ready-after", "3s", "restarts", "0", "not-ready", "0s", "window", "39s"),
				kit.Ran("restarts", "0", "not-ready", "5s", "window", "39s", "probe-failed", "0", "probe-errored", "3"),
				report.Inconclusive, "not Ready for 5s"),
		},
	})
}

// probePod runs one side: a busybox pod sleeping, its liveness probe
// `true` (the control) or `sleep 10` (the trigger), watched for the
// window scaled from the control pod's start.
func probePod(ctx context.Context, r *kit.Run) (kit.Observation, error) {
	name, command, label := "relapse-probe-fast", []string{"true"}, "control: liveness probe `true`, timeoutSeconds 1"
	if r.Armed() {
		name, command, label = "relapse-probe-slow", []string{"sleep", slowProbe}, "trigger: liveness probe `sleep "+slowProbe+"`, timeoutSeconds 1"
	}
	grace := int64(terminateGrace.Seconds())
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: new(bool), TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "sleep", Image: cluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sleep", "3600"},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: command}},
					TimeoutSeconds: int32(probeTimeout.Seconds()), PeriodSeconds: int32(probePeriod.Seconds()), FailureThreshold: probeFailures}}}}}
	took, err := r.Pod(ctx, pod, label)
	if errors.Is(err, cluster.ErrPollDeadline) {
		return kit.Observation{Failure: err.Error()}, nil
	}
	if err != nil {
		return kit.Observation{}, err
	}
	controlReady := took
	if r.Armed() {
		if controlReady, err = time.ParseDuration(r.ControlSaw().Fact("ready-after")); err != nil {
			return kit.Observation{}, fmt.Errorf("the control's start time %q: %w", r.ControlSaw().Fact("ready-after"), err)
		}
	}
	win := window(controlReady)
	w := r.WatchPod(ctx, name, win, time.Second)
	events, err := r.PodEvents(ctx, name)
	if err != nil {
		return kit.Observation{}, err
	}
	o := kit.Ran("restarts", strconv.Itoa(int(w.Restarts())), "not-ready", w.NotReady(time.Second).String(), "window", win.Round(time.Second).String(),
		"probe-failed", strconv.Itoa(probeEvents(events, "probe failed")), "probe-errored", strconv.Itoa(probeEvents(events, "probe errored")),
		"timeline", w.Timeline())
	if !r.Armed() {
		o.Facts["ready-after"] = took.Round(100 * time.Millisecond).String()
	}
	if len(events) > 0 {
		o.Facts["events"] = strings.Join(events, "\n")
	}
	return o, nil
}

// probeEvents counts the probe results kubelet recorded saying what ("probe
// failed": the probe counted as failed; "probe errored": thrown away), from
// the events' counts ("Warning Unhealthy x7 kubelet: Liveness probe failed: ...").
func probeEvents(events []string, what string) int {
	n := 0
	for _, e := range events {
		if !strings.Contains(e, what) {
			continue
		}
		count := 1
		if _, rest, ok := strings.Cut(e, " x"); ok {
			if c, err := strconv.Atoi(strings.Fields(rest)[0]); err == nil {
				count = c
			}
		}
		n += count
	}
	return n
}

// classify94080: the control's fast probe must have kept its pod Ready
// without restarts (the node runs a 1 s probe in time); then a trigger
// whose slow probe kubelet counted as failed (a restart, or failures
// recorded) is fixed, one whose pod stayed Ready and unrestarted through
// the window is affected.
func classify94080(control, trigger kit.Observation) kit.Verdict {
	atoi := func(o kit.Observation, k string) int { n, _ := strconv.Atoi(o.Fact(k)); return n }
	if atoi(control, "restarts") > 0 || atoi(control, "probe-failed") > 0 || control.Fact("not-ready") != "0s" {
		return kit.Verdict{Result: report.Inconclusive, Reason: fmt.Sprintf("the control's fast probe (`true`, timeoutSeconds 1) failed too: %s restarts, %s failed probes, not Ready for %s in %s; this node does not run a 1 s probe in time, so the slow probe's outcome would prove nothing",
			control.Fact("restarts"), control.Fact("probe-failed"), control.Fact("not-ready"), control.Fact("window"))}
	}
	if !trigger.Ran {
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's pod did not start: " + trigger.Failure}
	}
	restarts, failed, errored := atoi(trigger, "restarts"), atoi(trigger, "probe-failed"), atoi(trigger, "probe-errored")
	switch {
	case restarts > 0:
		return kit.Verdict{Result: report.NotReproduced, Reason: fmt.Sprintf("kubelet honoured timeoutSeconds: the probe `sleep %s` failed %d times and kubelet restarted the container %d times within %s",
			slowProbe, failed, restarts, trigger.Fact("window"))}
	case failed > 0:
		return kit.Verdict{Result: report.NotReproduced, Reason: fmt.Sprintf("kubelet honoured timeoutSeconds: it counted %d timed-out probes as failures within %s (no restart seen yet)", failed, trigger.Fact("window"))}
	case trigger.Fact("not-ready") != "0s":
		return kit.Verdict{Result: report.Inconclusive, Reason: fmt.Sprintf("the trigger's pod was not Ready for %s in %s, yet kubelet neither restarted it nor recorded a failed probe (%d errored): neither side of the rule", trigger.Fact("not-ready"), trigger.Fact("window"), errored)}
	}
	how := "the probe ran to its end, past its timeout, and succeeded (no probe event)"
	if errored > 0 {
		how = fmt.Sprintf("the runtime cut the probe at its timeout %d times and kubelet threw each result away (\"Liveness probe errored\")", errored)
	}
	return kit.Verdict{Result: report.Reproduced, Kind: "exec-probe-timeout-ignored",
		Reason: fmt.Sprintf("kubelet ignored the exec probe's timeoutSeconds: a liveness probe `sleep %s` with timeoutSeconds 1 kept the pod Ready without a restart for %s, %s the time a kubelet honouring it needs to restart the container",
			slowProbe, trigger.Fact("window"), "three times"),
		Reasons: []string{
			fmt.Sprintf("liveness probe `sleep %s`, timeoutSeconds %d, periodSeconds %d, failureThreshold %d: a kubelet honouring the timeout restarts the container within about %s of its start",
				slowProbe, int(probeTimeout.Seconds()), int(probePeriod.Seconds()), probeFailures, restartNeeds),
			fmt.Sprintf("watched %s: Ready throughout, 0 restarts, 0 failed probes; %s", trigger.Fact("window"), how),
			fmt.Sprintf("control (probe `true`, same settings): Ready after %s, Ready throughout %s, 0 restarts", control.Fact("ready-after"), control.Fact("window")),
		}}
}
