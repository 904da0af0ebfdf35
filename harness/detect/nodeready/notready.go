package nodeready

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// KindNotReadyWindow names the finding of a node that went NotReady and
// (perhaps) came back.
const KindNotReadyWindow = "node-not-ready-window"

// ReadyState is a node's Ready condition at one look.
type ReadyState struct {
	Ready bool
	// Status is the condition's status ("True", "False", "Unknown").
	Status         string
	Reason         string
	Message        string
	LastTransition time.Time
}

// NodeReadyState reads a node's Ready condition.
func NodeReadyState(ctx context.Context, c kubernetes.Interface, name string) (ReadyState, error) {
	n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ReadyState{}, err
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return ReadyState{Ready: cond.Status == corev1.ConditionTrue, Status: string(cond.Status), Reason: cond.Reason,
				Message: cond.Message, LastTransition: cond.LastTransitionTime.Time}, nil
		}
	}
	return ReadyState{Status: "absent", Message: "the node has no Ready condition yet"}, nil
}

// Window is one span in which the node was not Ready.
type Window struct {
	Start time.Time `json:"start"`
	// End is zero while the window is open.
	End     time.Time `json:"end,omitempty"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
}

// Duration of the window (up to now when still open).
func (w Window) Duration(now time.Time) time.Duration {
	if w.End.IsZero() {
		return now.Sub(w.Start)
	}
	return w.End.Sub(w.Start)
}

// UpdateWindows folds one observation into the windows: a transition to not
// Ready opens one (at the condition's lastTransitionTime, which kubelet
// sets, so the start does not depend on when relapse looked), a transition
// back closes it; the message of an open window keeps its first
// informative text (kubelet's "PLEG is not healthy: ..." message).
func UpdateWindows(ws []Window, st ReadyState, seen time.Time) []Window {
	at := st.LastTransition
	if at.IsZero() {
		at = seen
	}
	open := len(ws) > 0 && ws[len(ws)-1].End.IsZero()
	switch {
	case !st.Ready && !open:
		ws = append(ws, Window{Start: at, Status: st.Status, Reason: st.Reason, Message: st.Message})
	case !st.Ready && open:
		last := &ws[len(ws)-1]
		if last.Message == "" || !strings.Contains(last.Message, "PLEG") && strings.Contains(st.Message, "PLEG") {
			last.Message, last.Reason = st.Message, st.Reason
		}
	case st.Ready && open:
		ws[len(ws)-1].End = at
	}
	return ws
}

// NotReady watches one node's Ready condition once a second.
type NotReady struct {
	Client   kubernetes.Interface
	Node     string
	Interval time.Duration
}

// NodeWatch is a running NotReady.
type NodeWatch struct {
	mu      sync.Mutex
	windows []Window
	errors  int
	last    ReadyState
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start begins watching; Stop ends it.
func (d *NotReady) Start(ctx context.Context) *NodeWatch {
	every := d.Interval
	if every == 0 {
		every = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &NodeWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := NodeReadyState(gctx, d.Client, d.Node)
			gcancel()
			w.mu.Lock()
			if err != nil {
				w.errors++
			} else {
				w.last = st
				w.windows = UpdateWindows(w.windows, st, time.Now())
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
		}
	}()
	return w
}

// Windows returns the NotReady windows so far.
func (w *NodeWatch) Windows() []Window {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Window(nil), w.windows...)
}

// Last is the newest observation.
func (w *NodeWatch) Last() ReadyState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Stop ends watching.
func (w *NodeWatch) Stop() { w.cancel(); <-w.done }

// DescribeWindow is one line for reports.
func DescribeWindow(w Window, now time.Time) string {
	end := "still open"
	if !w.End.IsZero() {
		end = w.End.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("NotReady %s -> %s (%s): %s %s: %s", w.Start.UTC().Format(time.RFC3339), end,
		w.Duration(now).Round(time.Second), w.Status, w.Reason, w.Message)
}
