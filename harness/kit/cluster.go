//go:build !relapse_lean

package kit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/clusterkit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// A kubelet bug (Component "kubernetes") runs on a one-node cluster that
// clusterkit makes from the run's Kubernetes, containerd and runc builds
// (bare by default, kind with cluster=kind), on the local node or a qemu
// VM node. Its Control and Trigger get the cluster through Run.Cluster and
// make pods with Run.Pod; Run.WatchPod and Run.PodEvents are what kubelet
// showed of them.

// clusterRun is the cluster part of a Run.
type clusterRun struct {
	cluster *cluster.Cluster
}

// Cluster is a kubelet bug's cluster (nil for a runc bug).
func (r *Run) Cluster() *cluster.Cluster { return r.cluster }

// scenarioFor is how a declaration runs: a kubelet bug on a cluster,
// anything else with the runc under test on the node.
func scenarioFor(b *Bug) scenario.Scenario {
	if b.Component == versions.Kubernetes.Name {
		return &clusterScenario{b: b, name: b.Name()}
	}
	return nodeScenario(b)
}

// clusterScenario is a kubelet bug as harness/scenario runs it: the
// cluster scenarios' builds, nodes and plan checks (clusterkit), the
// bug's sides on a fresh cluster.
type clusterScenario struct {
	clusterkit.ScenarioBase
	b    *Bug
	name string
}

func (s *clusterScenario) Name() string              { return s.name }
func (s *clusterScenario) Bug() report.Bug           { return s.b.Report() }
func (s *clusterScenario) Sampling() report.Sampling { return s.b.Sampling }

// DefaultVersions: runc is not the question; a fixed release every
// cluster scenario runs with.
func (s *clusterScenario) DefaultVersions() map[string]string {
	return map[string]string{versions.Runc.Name: "1.1.14"}
}

// Params are the cluster's (who makes it, kubelet's feature gates), the
// kit's (how long a pod may take to start) and the bug's own.
func (s *clusterScenario) Params() []scenario.Param {
	return append([]scenario.Param{
		clusterkit.ProviderParam,
		cluster.FeatureGatesParam,
		scenario.DurationParam("pod-timeout", "2m", false, "how long one pod may take to start before the side ends unclassified"),
	}, s.b.Params...)
}

// CheckNode: a node clusters run on (clusterkit) that the bug runs on.
func (s *clusterScenario) CheckNode(provider string) error {
	if err := s.ScenarioBase.CheckNode(provider); err != nil {
		return err
	}
	return checkNode(s.b, provider)
}

// CheckPlan: what clusters can run (clusterkit), and a fix's gate turned
// off only where kubelet has it and lets it be turned off: from FirstFixed
// (before, kubelet refuses an unknown gate) to before FixGateLockedFrom
// (from there kubelet refuses to start with it off).
func (s *clusterScenario) CheckPlan(provider string, params scenario.Values, chosen map[string]string) error {
	if err := s.ScenarioBase.CheckPlan(provider, params, chosen); err != nil {
		return err
	}
	gates := params.Optional(cluster.FeatureGatesParam.Name, "")
	v := "v" + strings.TrimPrefix(chosen[versions.Kubernetes.Name], "v")
	if !s.b.TurnsFixOff(gates) || !semver.IsValid(v) {
		return nil
	}
	until := "every later release"
	if s.b.FixGateLockedFrom != "" {
		until = "before " + s.b.FixGateLockedFrom
	}
	from, locked := "v"+strings.TrimPrefix(s.b.FirstFixed, "v"), "v"+strings.TrimPrefix(s.b.FixGateLockedFrom, "v")
	switch {
	case semver.Compare(v, from) < 0:
		return fmt.Errorf("%s=%s: kubelet %s has no gate %s (it came with the fix in %s) and refuses an unknown one; turn it off on a release from %s to %s (the gate-off canary runs %s)",
			cluster.FeatureGatesParam.Name, gates, chosen[versions.Kubernetes.Name], s.b.FixGate, s.b.FirstFixed, s.b.FirstFixed, until, s.b.FirstFixed)
	case s.b.FixGateLockedFrom != "" && semver.Compare(v, locked) >= 0:
		return fmt.Errorf("%s=%s: kubelet %s locks %s on (from %s) and refuses to start with it off; turn it off on a release from %s to %s (the gate-off canary runs %s)",
			cluster.FeatureGatesParam.Name, gates, chosen[versions.Kubernetes.Name], s.b.FixGate, s.b.FixGateLockedFrom, s.b.FirstFixed, until, s.b.FirstFixed)
	}
	return nil
}

// Run makes the cluster, then runs the sides.
func (s *clusterScenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	c, opts, err := clusterkit.Start(ctx, env, false)
	if err != nil {
		return report.Inconclusive, "", err
	}
	if len(opts.FeatureGates) > 0 {
		env.Condition("kubelet feature gates", strings.TrimSpace(cluster.KubeletFeatureGates(opts.FeatureGates)))
	}
	r := &Run{Env: env, Fixtures: s.b.Fixtures, timeout: env.Params.Duration("pod-timeout"), clusterRun: clusterRun{cluster: c}}
	r.intro = "Run as root on a node of a one-node cluster of the Kubernetes under test, kubectl working there, in the report directory (it holds the pods' manifests)."
	if c.ManualSetup != "" {
		r.intro += "\n" + c.ManualSetup
	}
	return r.sides(ctx, s.b)
}

// Pod creates pod in the default namespace, saves its manifest with the
// report (and applies it in the reproducer) and waits up to the run's
// pod-timeout for its Ready condition. It returns how long the pod took
// to be Ready, from its creation; an error says what the pod was doing
// instead (a side that did not run, not the harness's failure, when it
// wraps cluster.ErrPollDeadline).
func (r *Run) Pod(ctx context.Context, pod *corev1.Pod, label string) (time.Duration, error) {
	pod.Namespace = "default"
	if pod.APIVersion == "" {
		pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	}
	file := pod.Name + ".yaml"
	manifest, err := yaml.Marshal(pod)
	if err != nil {
		return 0, fmt.Errorf("pod %s: %w", pod.Name, err)
	}
	if err := os.WriteFile(filepath.Join(r.Env.ReportDir, file), manifest, 0o644); err != nil {
		return 0, fmt.Errorf("saving pod %s: %w", pod.Name, err)
	}
	r.Env.File(report.File{Name: file, Path: file, Description: label})
	r.Script(fmt.Sprintf("kubectl apply -f %s  # %s", file, label))
	r.undo = append(r.undo, "kubectl delete --ignore-not-found --wait=false -f "+file)
	start := time.Now()
	if _, err := r.cluster.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return 0, fmt.Errorf("creating pod %s: %w", pod.Name, err)
	}
	r.Env.Event("pod created", pod.Name+": "+label)
	var p *corev1.Pod
	err = cluster.Poll(ctx, r.timeout, time.Second, func(ctx context.Context) bool {
		got, err := r.cluster.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err == nil {
			p = got
		}
		return err == nil && PodReady(got)
	})
	took := time.Since(start)
	if errors.Is(err, cluster.ErrPollDeadline) {
		return took, fmt.Errorf("pod %s not Ready after %s: %w\n%s", pod.Name, r.timeout, err, cluster.PodTable(ctx, r.cluster))
	}
	if err != nil {
		return took, err
	}
	r.Env.Event("pod Ready", fmt.Sprintf("%s after %s (phase %s)", pod.Name, took.Round(100*time.Millisecond), p.Status.Phase))
	return took, nil
}

// PodReady says whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodSample is one look at a pod while it was watched.
type PodSample struct {
	// At is the time since the watch began.
	At       time.Duration
	Ready    bool
	Restarts int32
	Phase    corev1.PodPhase
}

// PodWatch is what WatchPod saw, a sample a second.
type PodWatch struct {
	Samples []PodSample
	// Failed are the looks that could not read the pod.
	Failed int
}

// NotReady is how long the pod was seen not Ready (counted in samples).
func (w PodWatch) NotReady(every time.Duration) time.Duration {
	var n time.Duration
	for _, s := range w.Samples {
		if !s.Ready {
			n += every
		}
	}
	return n
}

// Restarts is the container restarts at the last look (0 when none was
// read).
func (w PodWatch) Restarts() int32 {
	if len(w.Samples) == 0 {
		return 0
	}
	return w.Samples[len(w.Samples)-1].Restarts
}

// Timeline is the samples where something changed, one line each.
func (w PodWatch) Timeline() string {
	var b strings.Builder
	var last *PodSample
	for i := range w.Samples {
		s := &w.Samples[i]
		if last == nil || s.Ready != last.Ready || s.Restarts != last.Restarts || s.Phase != last.Phase || i == len(w.Samples)-1 {
			fmt.Fprintf(&b, "+%-6s Ready=%-5t restarts=%d phase=%s\n", s.At.Round(time.Second), s.Ready, s.Restarts, s.Phase)
		}
		last = s
	}
	if w.Failed > 0 {
		fmt.Fprintf(&b, "(%d looks could not read the pod)\n", w.Failed)
	}
	return b.String()
}

// WatchPod looks at the pod every `every` for `window`: its Ready
// condition, its containers' restarts and its phase. The window is the
// bug's, scaled from what its control measured; it ends early only with
// ctx.
func (r *Run) WatchPod(ctx context.Context, name string, window, every time.Duration) PodWatch {
	var w PodWatch
	start := time.Now()
	r.Script(fmt.Sprintf("timeout %d kubectl get pod %s -w  # watch Ready and RESTARTS for %s", int(window.Seconds()), name, window.Round(time.Second)))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for time.Since(start) < window {
		p, err := r.cluster.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			w.Failed++
		} else {
			s := PodSample{At: time.Since(start), Ready: PodReady(p), Phase: p.Status.Phase}
			for _, cs := range p.Status.ContainerStatuses {
				s.Restarts += cs.RestartCount
			}
			w.Samples = append(w.Samples, s)
		}
		select {
		case <-ctx.Done():
			return w
		case <-tick.C:
		}
	}
	return w
}

// PodEvents are the events kubelet and the scheduler recorded about the
// pod, oldest first, one line each ("Unhealthy x3 kubelet: Liveness probe
// failed: ..."): what `kubectl describe pod` shows at the bottom.
func (r *Run) PodEvents(ctx context.Context, name string) ([]string, error) {
	list, err := r.cluster.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + name})
	if err != nil {
		return nil, fmt.Errorf("listing the events of pod %s: %w", name, err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool { return list.Items[i].FirstTimestamp.Before(&list.Items[j].FirstTimestamp) })
	var lines []string
	for _, e := range list.Items {
		lines = append(lines, fmt.Sprintf("%s %s x%d %s: %s", e.Type, e.Reason, max(e.Count, 1), e.Source.Component, strings.TrimSpace(e.Message)))
	}
	return lines, nil
}
