package plegnotready

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// plegThreshold is kubelet's generic PLEG health threshold.
const plegThreshold = 3 * time.Minute

func waitPodRunning(ctx context.Context, c *cluster.Cluster, name string, within time.Duration) error {
	phase := "unknown"
	var last error
	err := cluster.Poll(ctx, within, time.Second, func(ctx context.Context) bool {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if last = err; err != nil {
			return false
		}
		phase = string(p.Status.Phase)
		return p.Status.Phase == corev1.PodRunning
	})
	if errors.Is(err, cluster.ErrPollDeadline) {
		return fmt.Errorf("pod %s not Running after %s (phase %s, %v)", name, within, phase, last)
	}
	return err
}

// waitReady waits for the last window to close.
func waitReady(ctx context.Context, w *nodeready.NodeWatch, within time.Duration) bool {
	return cluster.Poll(ctx, within, time.Second, func(context.Context) bool {
		ws := w.Windows()
		return len(ws) > 0 && !ws[len(ws)-1].End.IsZero() && w.Last().Ready
	}) == nil
}

// plegMetrics reads kubelet's PLEG metrics through the API server's node proxy.
func plegMetrics(ctx context.Context, c *cluster.Cluster) string {
	mctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	raw, err := c.Client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", c.NodeName, "proxy", "metrics").DoRaw(mctx)
	if err != nil {
		return "kubelet metrics unavailable: " + err.Error() + ": " + strings.TrimSpace(string(raw))
	}
	var keep []string
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "kubelet_pleg_relist_duration_seconds_sum") || strings.HasPrefix(l, "kubelet_pleg_relist_duration_seconds_count") ||
			strings.HasPrefix(l, "kubelet_pleg_last_seen_seconds") || strings.HasPrefix(l, "kubelet_pleg_discard_events") ||
			strings.HasPrefix(l, "kubelet_pleg_relist_interval_seconds_sum") || strings.HasPrefix(l, "kubelet_pleg_relist_interval_seconds_count") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func summarise(ctx context.Context, env *scenario.Env, c *cluster.Cluster, ws []nodeready.Window, stallStart, stallEnd time.Time) {
	var lines []string
	for _, w := range ws {
		lines = append(lines, nodeready.DescribeWindow(w, time.Now()))
	}
	if len(lines) == 0 {
		lines = append(lines, "the node stayed Ready")
	}
	env.Evidence("Ready condition of "+c.NodeName, strings.Join(lines, "\n"))
	env.Evidence("events of node "+c.NodeName, cluster.NodeEvents(ctx, c))
	held := map[string]int{}
	for _, e := range c.Proxy.Events() {
		held[e.Method+" ("+e.Result+")"]++
	}
	var hs []string
	for k, v := range held {
		hs = append(hs, fmt.Sprintf("%s: %d", k, v))
	}
	env.Condition("CRI stall", fmt.Sprintf("%s held from %s to %s (%s); calls held: %s", env.Params.String("methods"),
		stallStart.UTC().Format(time.RFC3339), stallEnd.UTC().Format(time.RFC3339), stallEnd.Sub(stallStart).Round(time.Second), strings.Join(hs, ", ")))
	for _, w := range ws {
		env.Step(report.Step{At: w.Start, Name: "node NotReady", Detail: w.Message, Status: "failed"})
		if !w.End.IsZero() {
			env.Step(report.Step{At: w.End, Name: "node Ready again"})
		}
	}
}

// decide: REPRODUCED when a NotReady window with kubelet's PLEG message
// opened during the stall, no earlier than the threshold after it began,
// and the node came back once the relists answered; NOT REPRODUCED when the
// node stayed Ready through a stall longer than the threshold.
func decide(node string, ws []nodeready.Window, stallStart, stallEnd time.Time, recovered bool, env *scenario.Env) (report.Result, string, error) {
	stalled := stallEnd.Sub(stallStart)
	for _, w := range ws {
		if w.Start.Before(stallStart) || !strings.Contains(w.Message, "PLEG is not healthy") {
			continue
		}
		onset := w.Start.Sub(stallStart)
		f := report.Finding{Detector: "not-ready", Kind: nodeready.KindNotReadyWindow, At: time.Now().UTC(), OnsetAt: stallStart,
			Summary: fmt.Sprintf("node %s NotReady %s after the relists stalled: %q", node, onset.Round(time.Second), w.Message),
			Reasons: []string{nodeready.DescribeWindow(w, time.Now()),
				fmt.Sprintf("the runtime's other calls (Status, ImageFsInfo, ...) answered throughout; only %s were held", env.Params.String("methods"))}}
		env.Report.Findings = append(env.Report.Findings, f)
		if onset < plegThreshold-5*time.Second {
			return report.Inconclusive, fmt.Sprintf("the node went NotReady %s into the stall, before the %s PLEG threshold: something else is wrong", onset.Round(time.Second), plegThreshold), nil
		}
		if !recovered {
			return report.Inconclusive, "the node went NotReady with the PLEG message but did not come back Ready after the stall ended", nil
		}
		return report.Reproduced, fmt.Sprintf("NotReady window of %s (from %s after the stall began; threshold %s) with %q; Ready again %s after the relists answered",
			w.Duration(time.Now()).Round(time.Second), onset.Round(time.Second), plegThreshold, w.Message, w.End.Sub(stallEnd).Round(time.Second)), nil
	}
	if stalled < plegThreshold {
		return report.Inconclusive, fmt.Sprintf("the stall (%s) was shorter than the PLEG threshold (%s)", stalled.Round(time.Second), plegThreshold), nil
	}
	if len(ws) > 0 {
		return report.Inconclusive, "the node went NotReady, but not with kubelet's PLEG message: " + ws[0].Message, nil
	}
	return report.NotReproduced, fmt.Sprintf("the node stayed Ready through a %s relist stall", stalled.Round(time.Second)), nil
}
