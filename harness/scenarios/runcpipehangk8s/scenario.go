// Package runcpipehangk8s is containerd#5261 (fixed by runc#2871) at the Kubernetes level: pods with
// allowPrivilegeEscalation: false and a seccomp profile that compiles past
// 8192 bytes, on a node whose runc is v1.0.0-rc93 and whose
// fs.pipe-user-pages-soft is lowered. It measures what the seed saw: stuck
// `runc init` under containerd's shim, pods stuck ContainerCreating, and
// what kubelet's PLEG and the node's Ready condition do meanwhile.
package runcpipehangk8s

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/relapse-dev/relapse/fixtures/initreport"
	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/clusterkit"
	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
)

// Name is the scenario's name on the command line.
const Name = "runc-pipe-hang-k8s"

// Scenario is containerd#5261 under kubelet.
type Scenario struct{ clusterkit.ScenarioBase }

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string { return Name }

// Preconditions are runc-pipe-hang's: the pipe limit not lowered already
// (kubelet's own pods and the control need full-size pipes) and no runc
// init left stuck from elsewhere.
func (Scenario) Preconditions(v scenario.Values) []scenario.Precondition {
	return runcpipehang.Preconditions(v)
}

func (Scenario) Bug() report.Bug { return runcpipehang.Bug }

// Sampling: the same deterministic hang, seen through kubelet.
func (Scenario) Sampling() report.Sampling {
	s := runcpipehang.Declaration.Sampling
	s.Fresh = "a fresh cluster (bare ~10 s, kind ~50 s, VM node ~2.5 min) and new pods"
	return s
}

// DefaultVersions: the runc is the question; Kubernetes a current one.
func (Scenario) DefaultVersions() map[string]string {
	return map[string]string{"kubernetes": "1.30.14"}
}

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		clusterkit.ProviderParam,
		scenario.IntParam("pods", 3, 1, 100, "pods created with the trigger armed"),
		scenario.IntParam("soft-limit", 1, 0, 1<<30, "fs.pipe-user-pages-soft while the pods start"),
		scenario.DurationParam("observe", "4m", false, "how long the node is watched after a hang (PLEG's threshold is 3m)"),
		scenario.DurationParam("detect-timeout", "3m", false, "how long the pods may take to run before the attempt ends unclassified"),
	}
}

const profileName = "relapse-large.json"

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	pods := env.Params.Int("pods")
	observe := env.Params.Duration("observe")
	detectTimeout := env.Params.Duration("detect-timeout")
	c, opts, err := clusterkit.Start(ctx, env, false)
	if err != nil {
		return report.Inconclusive, "", err
	}
	profile, err := fixture.LoadProfile(fixture.ProfileLarge, fixture.Config("rootfs", fixture.ConfigOptions{NoNewPrivileges: true}))
	if err != nil {
		return report.Inconclusive, "", err
	}
	data, err := json.MarshalIndent(profile.Seccomp, "", "  ")
	if err != nil {
		return report.Inconclusive, "", err
	}
	if err := c.Node.WriteFile(ctx, filepath.Join(c.SeccompDir, profileName), data, 0o644); err != nil {
		return report.Inconclusive, "", err
	}
	env.Condition("compiled seccomp filter", fmt.Sprintf("%d bytes (Localhost profile %s, %d rules)", profile.BPFBytes, profileName, profile.Rules))
	if profile.BPFBytes <= 8192 {
		return report.Inconclusive, "the profile fits an 8192-byte pipe here: the trigger cannot be armed", nil
	}

	watch := (&nodeready.NotReady{Client: c.Client, Node: c.NodeName}).Start(ctx)
	defer watch.Stop()
	if err := (chaos.Sysctl{Key: runcpipehang.SoftLimitKey, Value: env.Params.String("soft-limit")}).Apply(ctx, env.Run); err != nil {
		return report.Inconclusive, "", err
	}
	env.Event("trigger armed", runcpipehang.SoftLimitKey+"="+env.Params.String("soft-limit"))
	for i := 0; i < pods; i++ {
		if err := createPod(ctx, c, fmt.Sprintf("relapse-nnp-%d", i)); err != nil {
			return report.Inconclusive, "", err
		}
	}
	dctx, cancel := context.WithTimeout(ctx, detectTimeout)
	// All pods running ends the watch early: the fixed case need not wait.
	go func() {
		for dctx.Err() == nil {
			if runningPods(dctx, c) == pods {
				cancel()
				return
			}
			time.Sleep(2 * time.Second)
		}
	}()
	det := &pipewrite.Detector{Node: env.Node, Select: evidence.Matching(func(p evidence.Process) bool {
		return evidence.IsRuncInit(p) && len(p.Cmdline) > 0 && p.Cmdline[0] == c.Runc
	})}
	finding, derr := det.Watch(dctx)
	cancel()
	running := runningPods(ctx, c)
	if derr != nil {
		env.Evidence("pods", cluster.PodTable(ctx, c))
		if running == pods {
			small, reports := shrunkPipes(ctx, c, pods)
			env.Evidence("what each pod's init saw", reports)
			if small < pods {
				return report.Inconclusive, fmt.Sprintf("only %d of %d pods saw 8192-byte pipes with no_new_privs: the trigger was not in force for them", small, pods), nil
			}
			return report.NotReproduced, fmt.Sprintf("%d of %d pods with allowPrivilegeEscalation: false and a %d-byte filter ran while their own pipes held 8192 bytes",
				running, pods, profile.BPFBytes), nil
		}
		return report.Inconclusive, fmt.Sprintf("%d of %d pods running and no runc init classified within %s: %v", running, pods, detectTimeout, derr), nil
	}
	env.Step(report.Step{At: finding.At, Name: "detected", Detail: finding.Summary, Status: "failed"})
	env.Logf("detected: %s; watching the node for %s", finding.Summary, observe)
	select {
	case <-ctx.Done():
	case <-time.After(observe):
	}
	env.Evidence("pods while runc init is stuck", cluster.PodTable(ctx, c))
	env.Evidence("events of node "+c.NodeName, cluster.NodeEvents(ctx, c))
	var ws []string
	for _, w := range watch.Windows() {
		ws = append(ws, nodeready.DescribeWindow(w, time.Now()))
	}
	nodeEffect := "the node stayed Ready"
	if len(ws) > 0 {
		nodeEffect = strings.Join(ws, "; ")
	}
	env.Condition("node during the hang", fmt.Sprintf("%s (watched %s after detection)", nodeEffect, observe))
	finding.Reasons = append(finding.Reasons, fmt.Sprintf("%d of %d pods have their container running after %s; node: %s", runningPods(ctx, c), pods, observe, nodeEffect))
	env.Report.Findings = append(env.Report.Findings, finding)
	return report.Reproduced, "under kubelet " + opts.Version + ": " + finding.Summary, nil
}

func createPod(ctx context.Context, c *cluster.Cluster, name string) error {
	no := false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: &no, Containers: []corev1.Container{{
			Name: "init", Image: cluster.BusyboxImage, ImagePullPolicy: corev1.PullNever, Command: []string{"/init", "sleep=3600"},
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: strPtr(profileName)}}}}}}
	_, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	return err
}

func strPtr(s string) *string { return &s }

// shrunkPipes reads each pod's first log line (fixtures/init's report) and
// counts the pods that ran with no_new_privs and 8192-byte pipes.
func shrunkPipes(ctx context.Context, c *cluster.Cluster, pods int) (int, string) {
	var b strings.Builder
	small := 0
	for i := 0; i < pods; i++ {
		name := fmt.Sprintf("relapse-nnp-%d", i)
		raw, err := c.Client.CoreV1().Pods("default").GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			fmt.Fprintf(&b, "%s: logs: %v\n", name, err)
			continue
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
		fmt.Fprintf(&b, "%s: %s\n", name, line)
		var seen initreport.Report
		if json.Unmarshal([]byte(line), &seen) == nil && seen.NoNewPrivs && seen.PipeSize > 0 && seen.PipeSize <= 8192 {
			small++
		}
	}
	return small, b.String()
}

func runningPods(ctx context.Context, c *cluster.Cluster) int {
	list, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0
	}
	// A pod's phase stays Running while kubelet retries a container whose
	// start failed (RunContainerError): count running containers instead.
	n := 0
	for _, p := range list.Items {
		running := len(p.Status.ContainerStatuses) > 0
		for _, cs := range p.Status.ContainerStatuses {
			running = running && cs.State.Running != nil
		}
		if running {
			n++
		}
	}
	return n
}
