package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodTable is the default namespace's pods (phase, and why a container
// waits or ended) and its warning events: the evidence of a run whose
// pods did not do what the scenario needed.
func PodTable(ctx context.Context, c *Cluster) string {
	list, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return "listing pods: " + err.Error()
	}
	var b strings.Builder
	for _, p := range list.Items {
		state := "no container waiting"
		for _, cs := range p.Status.ContainerStatuses {
			switch {
			case cs.State.Waiting != nil:
				state = fmt.Sprintf("container waiting: %s %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
			case cs.State.Terminated != nil:
				state = fmt.Sprintf("container terminated: %s, exit %d", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
			}
		}
		fmt.Fprintf(&b, "%-28s phase %-10s %s\n", p.Name, p.Status.Phase, strings.TrimSpace(state))
	}
	events, err := c.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil {
		return b.String() + "listing events: " + err.Error()
	}
	sort.Slice(events.Items, func(i, j int) bool { return events.Items[i].LastTimestamp.Before(&events.Items[j].LastTimestamp) })
	if n := len(events.Items); n > 20 {
		events.Items = events.Items[n-20:]
	}
	for _, e := range events.Items {
		fmt.Fprintf(&b, "event %s %s/%s x%d: %s\n", e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Count, e.Message)
	}
	return b.String()
}

// NodeEvents are the events recorded about the node (NodeNotReady,
// NodeReady, kubelet's starts...), oldest first: what `kubectl describe
// node` shows at the bottom.
func NodeEvents(ctx context.Context, c *Cluster) string {
	events, err := c.Client.CoreV1().Events("").List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Node,involvedObject.name=" + c.NodeName})
	if err != nil {
		return "listing node events: " + err.Error()
	}
	sort.Slice(events.Items, func(i, j int) bool { return events.Items[i].LastTimestamp.Before(&events.Items[j].LastTimestamp) })
	var b strings.Builder
	for _, e := range events.Items {
		fmt.Fprintf(&b, "%s %-8s %-24s x%d %s: %s\n", e.LastTimestamp.UTC().Format("15:04:05"), e.Type, e.Reason, e.Count, e.Source.Component, e.Message)
	}
	if b.Len() == 0 {
		return "no events about the node"
	}
	return b.String()
}
