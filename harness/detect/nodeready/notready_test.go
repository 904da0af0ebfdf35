package nodeready

import (
	"testing"
	"time"
)

func TestUpdateWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ready := ReadyState{Ready: true, Status: "True", LastTransition: t0}
	var ws []Window
	ws = UpdateWindows(ws, ready, t0.Add(time.Second))
	if len(ws) != 0 {
		t.Fatalf("a Ready node has no window: %+v", ws)
	}
	down := ReadyState{Status: "False", Reason: "KubeletNotReady", Message: "container runtime status check may not have completed yet", LastTransition: t0.Add(200 * time.Second)}
	ws = UpdateWindows(ws, down, t0.Add(201*time.Second))
	pleg := down
	pleg.Message = "PLEG is not healthy: pleg was last seen active 3m2s ago; threshold is 3m0s"
	ws = UpdateWindows(ws, pleg, t0.Add(202*time.Second))
	ws = UpdateWindows(ws, pleg, t0.Add(203*time.Second))
	if len(ws) != 1 || !ws[0].End.IsZero() || ws[0].Message != pleg.Message {
		t.Fatalf("one open window keeping kubelet's PLEG message: %+v", ws)
	}
	if !ws[0].Start.Equal(t0.Add(200 * time.Second)) {
		t.Errorf("the window starts at the condition's lastTransitionTime, not when relapse looked: %v", ws[0].Start)
	}
	back := ReadyState{Ready: true, Status: "True", LastTransition: t0.Add(260 * time.Second)}
	ws = UpdateWindows(ws, back, t0.Add(262*time.Second))
	if ws[0].End != t0.Add(260*time.Second) || ws[0].Duration(time.Time{}) != 60*time.Second {
		t.Errorf("closed at the transition back: %+v", ws[0])
	}
	ws = UpdateWindows(ws, ReadyState{Status: "Unknown", Reason: "NodeStatusUnknown", LastTransition: t0.Add(400 * time.Second)}, t0.Add(401*time.Second))
	if len(ws) != 2 || ws[1].Reason != "NodeStatusUnknown" {
		t.Errorf("a second outage opens a second window: %+v", ws)
	}
}
