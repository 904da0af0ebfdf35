// Package plegnotready reproduces "PLEG is not healthy": when the runtime
// stops answering kubelet's relists (ListPodSandbox, ListContainers) for
// longer than the PLEG threshold (3 min), kubelet reports the node
// NotReady, although the runtime's Status call still answers; once the
// relists answer again the node comes back. The stall is made by relapse's
// CRI proxy between kubelet and containerd, so the scenario measures the
// kubelet's behaviour itself, at any Kubernetes version, on a real cluster.
package plegnotready

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/clusterkit"
	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Name is the scenario's name on the command line.
const Name = "pleg-not-healthy"

// Bug is exported for the suites.
var Bug = report.Bug{
	ID:    "kubernetes#45419",
	Title: "A runtime that stops answering relists makes kubelet report the node NotReady (PLEG is not healthy)",
	Summary: "kubelet's pod lifecycle event generator relists pods every second through CRI ListPodSandbox and " +
		"ListContainers. If no relist completes for 3 minutes (the PLEG threshold), kubelet's runtime health check " +
		"fails and the node's Ready condition turns False with \"PLEG is not healthy: pleg was last seen active ... ago; " +
		"threshold is 3m0s\", although the runtime's Status call answers. A stuck runc (containerd#5261) or a deadlocked " +
		"containerd (containerd#6772) does this in production; here a CRI proxy holds the relist calls.",
	Links: []report.Link{
		{Title: "kubernetes/kubernetes#45419: Node flapping between Ready/NotReady with PLEG issues", URL: "https://github.com/kubernetes/kubernetes/issues/45419"},
		{Title: "kubernetes/kubernetes#61117: PLEG is not healthy", URL: "https://github.com/kubernetes/kubernetes/issues/61117"},
		{Title: "kubernetes/kubernetes#41569: Report node not ready on failed PLEG health check (the rule)", URL: "https://github.com/kubernetes/kubernetes/pull/41569"},
		{Title: "containerd/containerd#5261: runc rc93 hang -> PLEG unhealthy -> NotReady", URL: "https://github.com/containerd/containerd/issues/5261"},
		{Title: "kubernetes/kubernetes#109965: Nodes flapping (NotReady/Ready) with containerd 1.4.4 and runc rc93", URL: "https://github.com/kubernetes/kubernetes/issues/109965"},
	},
	Component: "kubernetes",
	// The health rule (kubernetes#41569) dates from 2017; no release has
	// been checked for it here, so every version relapse can build counts.
	Affected: ">= 1.0.0",
	Fixed:    "none: it is kubelet's health rule (Evented PLEG changes the thresholds to 300 s / 10 min)",
}

// Scenario is PLEG not healthy.
type Scenario struct{ clusterkit.ScenarioBase }

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string    { return Name }
func (Scenario) Bug() report.Bug { return Bug }

// Sampling: kubelet's health rule is deterministic.
func (Scenario) Sampling() report.Sampling {
	return report.Sampling{Deterministic: true,
		Why:   "kubelet marks the node NotReady whenever no relist completed within the PLEG threshold; a node that stayed Ready through a longer stall did not apply the rule",
		Fresh: "a fresh cluster (bare ~10 s, kind ~50 s) and a new stall of the relists (~3.5 min)"}
}

// DefaultVersions: the newest Kubernetes this proxy serves completely, and
// a fixed runc.
func (Scenario) DefaultVersions() map[string]string {
	return map[string]string{"kubernetes": "1.30.14", "runc": "1.1.14"}
}

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		clusterkit.ProviderParam,
		scenario.DurationParam("stall", "3m30s", false, "how long ListPodSandbox and ListContainers are held (the PLEG threshold is 3m)"),
		scenario.StringParam("methods", "ListPodSandbox,ListContainers", "CRI methods the proxy holds (comma-separated); everything else answers", criMethods),
		scenario.DurationParam("recover-timeout", "2m", false, "how long the node may take to come back Ready after the stall ends"),
	}
}

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	stall := env.Params.Duration("stall")
	recoverIn := env.Params.Duration("recover-timeout")
	c, opts, err := clusterkit.Start(ctx, env, true)
	if err != nil {
		return report.Inconclusive, "", err
	}
	if env.Report.Reproduce, err = manualSteps(c.ManualSetup, opts.Version, env.Params.String("methods"), stall, recoverIn); err != nil {
		return report.Inconclusive, "", err
	}

	// One pod, so a relist has something to list.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "relapse-sleeper", Namespace: "default"},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: new(bool), Containers: []corev1.Container{{
			Name: "sleep", Image: cluster.BusyboxImage, ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"}}}}}
	if err := env.Timed("create pod", pod.Name, func() error {
		_, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		return waitPodRunning(ctx, c, pod.Name, 2*time.Minute)
	}); err != nil {
		return report.Inconclusive, "the pod did not start on a healthy node, so a NotReady later would prove nothing: " + err.Error(), nil
	}

	watch := (&nodeready.NotReady{Client: c.Client, Node: c.NodeName}).Start(ctx)
	defer watch.Stop()
	time.Sleep(3 * time.Second)
	if ws := watch.Windows(); len(ws) > 0 {
		return report.Inconclusive, "the node was already NotReady before the stall: " + nodeready.DescribeWindow(ws[0], time.Now()), nil
	}
	faults := map[string]cluster.Fault{}
	for _, m := range strings.Split(env.Params.String("methods"), ",") {
		faults[strings.TrimSpace(m)] = cluster.Fault{Hold: true}
	}
	stallStart := time.Now()
	c.Proxy.Set(faults)
	env.Event("CRI stall begins", fmt.Sprintf("holding %s for %s", env.Params.String("methods"), stall))
	select {
	case <-ctx.Done():
	case <-time.After(stall):
	}
	c.Proxy.Set(nil)
	stallEnd := time.Now()
	env.Event("CRI stall ends", "held calls released")
	recovered := waitReady(ctx, watch, recoverIn)
	windows := watch.Windows()
	env.Evidence("PLEG metrics after the stall", plegMetrics(ctx, c))
	summarise(ctx, env, c, windows, stallStart, stallEnd)
	if ctx.Err() != nil {
		return report.Inconclusive, "interrupted", nil
	}
	return decide(c.NodeName, windows, stallStart, stallEnd, recovered, env)
}

// criMethods accepts a comma-separated list of CRI methods (the runtime
// and image services of CRI v1, as the proxy names them).
func criMethods(v string) error {
	known := map[string]bool{}
	var names []string
	// The generated service descriptors are unexported; the server
	// interfaces name every method.
	for _, server := range []reflect.Type{reflect.TypeOf((*cri.RuntimeServiceServer)(nil)).Elem(), reflect.TypeOf((*cri.ImageServiceServer)(nil)).Elem()} {
		for i := 0; i < server.NumMethod(); i++ {
			if name := server.Method(i).Name; !strings.HasPrefix(name, "mustEmbed") {
				known[name] = true
				names = append(names, name)
			}
		}
	}
	for _, m := range strings.Split(v, ",") {
		if !known[strings.TrimSpace(m)] {
			sort.Strings(names)
			return fmt.Errorf("%q is not a CRI method; want a comma-separated list of %s", m, strings.Join(names, ", "))
		}
	}
	return nil
}
