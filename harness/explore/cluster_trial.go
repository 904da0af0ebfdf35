package explore

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// clusterTrial is one schedule against the run's cluster.
type clusterTrial struct {
	*clusterStack
	// n numbers the run, as trial.n does.
	n int64
	// trialDir holds the trial's own files (the faults').
	trialDir string
	begin    time.Time
	watch    *nodeready.NodeWatch
	// netnsBefore are the cni-* entries of the host's netns directory
	// when the trial began: only new ones can be this trial's.
	netnsBefore []string

	mu   sync.Mutex
	next int
	armedFaults
	scrapes sync.WaitGroup
}

// hostNetnsDir is where containerd's CRI pins a pod sandbox's network
// namespace (a bind mount of nsfs on a file named cni-<uuid>), unless
// told to keep them under its state directory, which relapse never is.
// For a bare cluster it is inside containerd's private /run.
const hostNetnsDir = "/var/run/netns"

// run runs sched once on the cluster; a nil Violation means every
// invariant held.
func (s *clusterStack) run(ctx context.Context, sched Schedule) (v *Violation, err error) {
	t := &clusterTrial{clusterStack: s, n: s.trials.Add(1), begin: time.Now()}
	t.trialDir = filepath.Join(s.env.Dir, fmt.Sprintf("run-%d", t.n))
	s.env.Logf("run %d: schedule seed %d, %d steps", t.n, sched.Seed, len(sched.Steps))
	err = s.env.Node.Command("mkdir", "-p", filepath.Join(t.trialDir, "faults")).Run(ctx)
	if err == nil {
		err = t.clear(ctx)
	}
	switch {
	case ctx.Err() != nil:
		return nil, nil // the budget (or the run) ended before the trial began
	case err != nil:
		return nil, fmt.Errorf("run %d: %w", t.n, err)
	}
	t.netnsBefore = t.netnsEntries(ctx)
	t.watch = (&nodeready.NotReady{Client: s.c.Client, Node: s.c.NodeName}).Start(ctx)
	scraping, stopScraping := context.WithCancel(ctx)
	defer func() {
		stopScraping()
		t.scrapes.Wait()
		t.disarm(ctx, t.env, t.n)
		t.watch.Stop()
	}()
	if v, err := t.warmUp(ctx); v != nil || err != nil {
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", t.n, err)
		}
		return t.violated(ctx, v, -1), nil
	}
	nodeReady := func() *Violation { return t.nodeReady(time.Now()) }
	if v, i, err := runSchedule(ctx, scraping, t, t.n, sched, nodeReady); v != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return t.violated(ctx, v, i), nil
	}
	if ctx.Err() != nil {
		return nil, nil
	}
	// The teardown, faults off first (as the containerd explorer's: a
	// fault delaying every shim read makes any delete slow; a hang it
	// caused stays a hang): the daemon answers, every pod goes, the node
	// is Ready again and nothing of the pods is left.
	end := len(sched.Steps)
	stopScraping()
	t.scrapes.Wait()
	t.disarm(ctx, t.env, t.n)
	if v := t.answers(ctx); v != nil {
		return t.violated(ctx, v, end), nil
	}
	if v := t.deleteAll(ctx); v != nil {
		return t.violated(ctx, v, end), nil
	}
	for _, check := range []func(context.Context) *Violation{t.settled, t.leftovers} {
		if v := check(ctx); v != nil && ctx.Err() == nil {
			return t.violated(ctx, v, end), nil
		}
	}
	if ctx.Err() != nil {
		return nil, nil // the budget ended the teardown: nothing was judged
	}
	t.env.Logf("run %d: every invariant held in %s; bounds now: %s %s, %s %s, %s %s", t.n, time.Since(t.begin).Round(time.Second),
		opPodStart, t.deadline(opPodStart).Round(time.Millisecond), opPodDelete, t.deadline(opPodDelete).Round(time.Millisecond),
		opCRIExec, t.deadline(opCRIExec).Round(time.Millisecond))
	return nil, nil
}

func (t *clusterTrial) violated(ctx context.Context, v *Violation, step int) *Violation {
	v.Step, v.After = step, time.Since(t.begin)
	v.Observed = t.observe(ctx, v)
	return v
}

// warmUp starts, execs into and deletes a pod twice, so the bounds start
// from this cluster's speed now. With the first pod running it checks
// that the leftover detectors see it (its netns, its IP, its shim): a
// detector blind on this stack would pass every teardown.
func (t *clusterTrial) warmUp(ctx context.Context) (*Violation, error) {
	for i := range 2 {
		for _, st := range []Step{{Action: ActionChurn, Params: map[string]string{"tasks": "1", "concurrency": "1", "profile": "none"}},
			{Action: ActionExecStorm, Params: map[string]string{"execs": "1", "concurrency": "1"}},
			{Action: ActionDelete, Params: map[string]string{"concurrency": "1"}}} {
			if i == 0 && st.Action == ActionExecStorm {
				if err := t.leftoversSeen(ctx); err != nil {
					return nil, err
				}
			}
			if v, _ := runStep(ctx, ctx, t, st); v != nil {
				return v, nil
			}
		}
	}
	return nil, nil
}

// leftoversSeen is the leftover detectors' control: with one pod
// running, each kind of leftover must be seen once.
func (t *clusterTrial) leftoversSeen(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	seen := strings.Join(t.leftNow(ctx), "\n")
	var blind []string
	for kind, mark := range map[string]string{"its sandbox's netns": "netns pinned", "its IP": "IP ", "its shim": "containerd-shim"} {
		if !strings.Contains(seen, mark) {
			blind = append(blind, kind)
		}
	}
	if len(blind) > 0 {
		slices.Sort(blind)
		return fmt.Errorf("the leftover detectors are blind on this cluster: with a pod running they did not see %s (they saw: %s)", strings.Join(blind, ", "), seen)
	}
	return nil
}

// deleteStep and armStep are the delete and fault steps (stepper).
func (t *clusterTrial) deleteStep(ctx context.Context, c int) *Violation { return t.deletePods(ctx, c) }
func (t *clusterTrial) armStep(ctx context.Context, st Step) error {
	return t.arm(ctx, t.env, t.n, st, t.target(filepath.Join(t.trialDir, "faults")))
}

// pods lists the explorer's pods.
func (t *clusterTrial) pods(ctx context.Context) ([]corev1.Pod, error) {
	list, err := t.c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: podLabel})
	if err != nil {
		return nil, fmt.Errorf("listing the explorer's pods: %w", err)
	}
	return list.Items, nil
}

// podFor is a churn's pod: busybox sleeping, with what users give theirs
// (a seccomp profile, the cluster's copy of the one the step names, or
// none; no privilege escalation or not). The short grace period keeps
// deletes about the runtime, not about sleep ignoring SIGTERM.
func podFor(name, profile string, nnp bool) *corev1.Pod {
	grace := int64(1)
	escalate := !nnp
	sc := &corev1.SecurityContext{AllowPrivilegeEscalation: &escalate}
	if profile != "" && profile != "none" {
		file := localhostProfile(profile)
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &file}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{podLabel: "pod"}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, AutomountServiceAccountToken: new(bool),
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "work", Image: cluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sleep", "3600"}, SecurityContext: sc}}}}
}

// churn creates pods (up to maxPods alive) and waits for each to be
// Ready within the pod-start bound. A pod that reports why it cannot
// start (a fault may make it fail) is no violation; one that neither
// starts nor says why is.
func (t *clusterTrial) churn(ctx context.Context, st Step) *Violation {
	live, err := t.pods(ctx)
	if err != nil {
		t.env.Error(fmt.Sprintf("run %d: %v", t.n, err))
		return nil
	}
	n := min(st.Int("tasks", 1), maxPods-len(live))
	profile, nnp := st.Params["profile"], st.Params["nnp"] == "true"
	late := t.bounded(ctx, t.relief(ctx, t.env, t.n), opPodStart, n, st.Int("concurrency", 1), func(ctx context.Context, _ int) error {
		t.mu.Lock()
		t.next++
		name := fmt.Sprintf("chaos-%d-%d", t.n, t.next)
		t.mu.Unlock()
		if _, err := t.c.Client.CoreV1().Pods("default").Create(ctx, podFor(name, profile, nnp), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pod %s: %w", name, err)
		}
		return t.waitReady(ctx, name)
	})
	if late != "" {
		return &Violation{Invariant: InvPodStart, Detail: late}
	}
	return nil
}

// waitReady waits until the pod is Ready (nil), says why it cannot start
// (an error before the deadline), or ctx ends.
func (t *clusterTrial) waitReady(ctx context.Context, name string) error {
	looks := 0
	var why error
	err := poll.Until(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		looks++
		p, err := t.c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if kit.PodReady(p) {
			return true, nil
		}
		if why = podFailing(p); why == nil && looks%4 == 0 {
			why = t.podWarning(ctx, name)
		}
		return why != nil, nil
	})
	if err != nil {
		return fmt.Errorf("pod %s: %w", name, err)
	}
	return why
}

// startingReasons are the waiting reasons of a container on its way up.
var startingReasons = []string{"", "ContainerCreating", "PodInitializing"}

// podFailing is why a pod's container cannot run (waiting for another
// reason than starting, or ended), nil while it is on its way up.
func podFailing(p *corev1.Pod) error {
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		return fmt.Errorf("pod %s is %s: %s", p.Name, p.Status.Phase, p.Status.Message)
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil && !slices.Contains(startingReasons, cs.State.Waiting.Reason):
			return fmt.Errorf("pod %s: container %s waiting: %s %s", p.Name, cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			return fmt.Errorf("pod %s: container %s terminated: %s, exit %d", p.Name, cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
	}
	return nil
}

// podWarning is kubelet's newest warning about the pod (a sandbox that
// failed to be made shows only there), nil when there is none.
func (t *clusterTrial) podWarning(ctx context.Context, name string) error {
	list, err := t.c.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{
		FieldSelector: "type=Warning,involvedObject.kind=Pod,involvedObject.name=" + name})
	if err != nil || len(list.Items) == 0 {
		return nil
	}
	e := list.Items[len(list.Items)-1]
	return fmt.Errorf("pod %s: %s: %s", name, e.Reason, strings.TrimSpace(e.Message))
}

// deletePods deletes every pod of the explorer, each gone within the
// pod-delete bound.
func (t *clusterTrial) deletePods(ctx context.Context, c int) *Violation {
	pods, err := t.pods(ctx)
	if err != nil {
		t.env.Error(fmt.Sprintf("run %d: %v", t.n, err))
		return nil
	}
	late := t.bounded(ctx, t.relief(ctx, t.env, t.n), opPodDelete, len(pods), c, func(ctx context.Context, i int) error {
		return t.deletePod(ctx, pods[i].Name)
	})
	if late != "" {
		return &Violation{Invariant: InvPodDelete, Detail: late}
	}
	return nil
}

// deleteAll is the teardown's delete: every pod, four at a time.
func (t *clusterTrial) deleteAll(ctx context.Context) *Violation { return t.deletePods(ctx, 4) }

// deletePod deletes a pod and waits until the API no longer has it
// (kubelet confirmed its containers and sandbox stopped).
func (t *clusterTrial) deletePod(ctx context.Context, name string) error {
	err := t.c.Client.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting pod %s: %w", name, err)
	}
	return poll.Until(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		_, err := t.c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// clear removes the pods an earlier trial left (one whose invariant
// broke stops without its teardown), through kubelet like any delete (a
// forced delete would leave their teardown running into this trial's
// checks), once the runc processes they left are killed: a trial starts
// from an empty node. A pod that does not go is a
// cluster the explorer cannot go on with.
func (t *clusterTrial) clear(ctx context.Context) error {
	pods, err := t.pods(ctx)
	if err != nil || len(pods) == 0 {
		return err
	}
	t.killHungRunc(ctx)
	within := max(t.deadline(opPodDelete), 2*time.Minute)
	cctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for _, p := range pods {
		if err := t.deletePod(cctx, p.Name); err != nil {
			return fmt.Errorf("clearing the pods of an earlier trial: pod %s not gone within %s: %w\n%s", p.Name, within, err, cluster.PodTable(ctx, t.c))
		}
	}
	return nil
}

// killHungRunc kills the runc processes (runc init among them) an
// earlier trial's violation left: one hung in a write would hold its pod,
// and so every later trial, forever. A healthy node has none between
// trials.
func (t *clusterTrial) killHungRunc(ctx context.Context) {
	procs, err := t.processes(ctx)
	if err != nil {
		return
	}
	for _, p := range procs {
		if strings.HasPrefix(p.Comm, "runc") {
			t.env.Logf("run %d: killing %d %s (%s), left by an earlier trial", t.n, p.PID, p.Comm, p.CommandLine())
			_ = t.env.Node.Kill(ctx, p.PID, int(syscall.SIGKILL))
		}
	}
}

// criContainers are the running containers of the explorer's pods.
func (t *clusterTrial) criContainers(ctx context.Context) ([]string, error) {
	resp, err := t.cri.ListContainers(ctx, &cri.ListContainersRequest{Filter: &cri.ContainerFilter{
		State:         &cri.ContainerStateValue{State: cri.ContainerState_CONTAINER_RUNNING},
		LabelSelector: map[string]string{"io.kubernetes.container.name": "work"}}})
	if err != nil {
		return nil, fmt.Errorf("CRI ListContainers: %w", err)
	}
	var ids []string
	for _, c := range resp.Containers {
		ids = append(ids, c.Id)
	}
	return ids, nil
}

// execStorm runs short execs (`true`) through the CRI into the running
// containers, round robin.
func (t *clusterTrial) execStorm(ctx context.Context, st Step) *Violation {
	ids, err := t.criContainers(ctx)
	if err != nil || len(ids) == 0 {
		return nil
	}
	late := t.bounded(ctx, t.relief(ctx, t.env, t.n), opCRIExec, st.Int("execs", 1), st.Int("concurrency", 1), func(ctx context.Context, i int) error {
		resp, err := t.cri.ExecSync(ctx, &cri.ExecSyncRequest{ContainerId: ids[i%len(ids)], Cmd: []string{"true"},
			Timeout: int64(t.deadline(opCRIExec).Seconds()) + 1})
		if err == nil && resp.ExitCode != 0 {
			err = fmt.Errorf("exec exited %d: %s", resp.ExitCode, resp.Stderr)
		}
		return err
	})
	if late != "" {
		return &Violation{Invariant: InvCRIExec, Detail: late}
	}
	return nil
}

// scrape starts loops asking the CRI for every container's stats (what
// kubelet's summary API and a metrics server do) until ctx ends.
func (t *clusterTrial) scrape(ctx context.Context, loops int) {
	for range loops {
		t.scrapes.Add(1)
		go func() {
			defer t.scrapes.Done()
			for ctx.Err() == nil {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, _ = t.cri.ListContainerStats(sctx, &cri.ListContainerStatsRequest{})
				cancel()
			}
		}()
	}
}

// answers asks the cluster's containerd its CRI version within the bound.
func (t *clusterTrial) answers(ctx context.Context) *Violation {
	late := t.bounded(ctx, t.relief(ctx, t.env, t.n), opCRIVer, 1, 1, func(ctx context.Context, _ int) error {
		_, err := t.cri.Version(ctx, &cri.VersionRequest{})
		return err
	})
	if late != "" {
		return &Violation{Invariant: InvCRIDaemon, Detail: late}
	}
	return nil
}

// nodeReady is a violation when a NotReady window of this trial lasted
// longer than the pod-start bound: a node unable to take pods for longer
// than a pod takes to start, many times over.
func (t *clusterTrial) nodeReady(now time.Time) *Violation {
	bound := t.deadline(opPodStart)
	w, ok := notReadyTooLong(t.watch.Windows(), bound, now)
	if !ok {
		return nil
	}
	return &Violation{Invariant: InvNodeReady, Detail: fmt.Sprintf("%s (bound %s)", nodeready.DescribeWindow(w, now), bound.Round(time.Millisecond))}
}

// settled waits, at the end, for an open NotReady window to close within
// the bound, then judges the trial's windows.
func (t *clusterTrial) settled(ctx context.Context) *Violation {
	_ = poll.Within(ctx, t.deadline(opPodStart), time.Second, func(context.Context) (bool, error) {
		ws := t.watch.Windows()
		return len(ws) == 0 || !ws[len(ws)-1].End.IsZero(), nil
	})
	return t.nodeReady(time.Now())
}

// netnsEntries are the cni-* entries of the netns directory as the
// cluster's containerd sees it: through /proc/PID/root, its own mount
// namespace, where relapse's daemons have a private /run.
func (t *clusterTrial) netnsEntries(ctx context.Context) []string {
	dir := hostNetnsDir
	if pid, err := t.daemonPID(ctx); err == nil {
		dir = fmt.Sprintf("/proc/%d/root%s", pid, hostNetnsDir)
	}
	out, err := t.env.Node.Command("sh", "-c", `cd "$1" 2>/dev/null && ls -1`, "ls", dir).Output(ctx)
	if err != nil {
		return nil
	}
	return cniNames(strings.Fields(string(out)))
}

// leftovers checks, once every pod is deleted, that the pods' network
// and runtime went with them: no cni netns pinned in containerd's mount
// namespace or new in the host's netns directory, no IP reserved in
// host-local's directory, no shim, runc or container process. kubelet
// stops a deleted pod's sandbox before the API lets it go; the delete
// bound is given for the rest to follow.
func (t *clusterTrial) leftovers(ctx context.Context) *Violation {
	var left []string
	check := func(ctx context.Context) (bool, error) {
		left = t.leftNow(ctx)
		return len(left) == 0, nil
	}
	if err := poll.Within(ctx, t.deadline(opPodDelete), 500*time.Millisecond, check); err != nil && ctx.Err() == nil {
		return &Violation{Invariant: InvNetLeftovers, Detail: strings.Join(left, "; ")}
	}
	return nil
}

func (t *clusterTrial) leftNow(ctx context.Context) []string {
	var left []string
	procs, err := t.processes(ctx)
	if err != nil {
		return []string{"processes: " + err.Error()}
	}
	daemon := 0
	for _, p := range procs {
		if p.Comm == "containerd" {
			daemon = p.PID
			continue
		}
		left = append(left, fmt.Sprintf("process %d %s (%s)", p.PID, p.Comm, p.CommandLine()))
	}
	if daemon == 0 {
		return append(left, "the cluster's containerd is not running")
	}
	if info, err := t.env.Node.ReadFile(ctx, fmt.Sprintf("/proc/%d/mountinfo", daemon)); err != nil {
		left = append(left, "containerd's mountinfo: "+err.Error())
	} else {
		for _, m := range netnsMounts(string(info)) {
			left = append(left, "netns pinned in containerd's mount namespace: "+m)
		}
	}
	for _, name := range newEntries(t.netnsBefore, t.netnsEntries(ctx)) {
		left = append(left, "netns file "+filepath.Join(hostNetnsDir, name)+" (in containerd's mount namespace)")
	}
	if err := t.c.Pull(ctx, t.c.IPAMDir); err != nil {
		return append(left, "host-local's directory: "+err.Error())
	}
	allocs, err := detect.ReadAllocations(t.c.IPAMDir)
	if err != nil {
		return append(left, "host-local's reservations: "+err.Error())
	}
	return append(left, ipLeftovers(allocs)...)
}

// observe gathers the evidence of a violation on a cluster: the engine's
// processes (for the catalog's claimers), the pods, the node's events
// and kubelet's log tail.
func (t *clusterTrial) observe(ctx context.Context, v *Violation) scenario.Observed {
	o := scenario.Observed{Invariant: v.Invariant, Detail: v.Detail, PipeHolders: map[uint64][]evidence.PipeHolder{}}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	snapshotProcesses(ctx, t.env, t.n, t.engineDir, v.Invariant, &o, "containerd", "kubelet")
	t.env.Evidence(fmt.Sprintf("run %d: pods and warning events when %q broke", t.n, v.Invariant), cluster.PodTable(ctx, t.c))
	t.env.Evidence(fmt.Sprintf("run %d: the node's events", t.n), cluster.NodeEvents(ctx, t.c))
	if st := t.watch.Last(); st.Status != "" {
		t.env.Evidence(fmt.Sprintf("run %d: the node's Ready condition", t.n), fmt.Sprintf("%s %s: %s", st.Status, st.Reason, st.Message))
	}
	t.env.Evidence(fmt.Sprintf("run %d: kubelet's log, last 40 lines", t.n), t.kubeletTail(ctx, 40))
	return o
}
