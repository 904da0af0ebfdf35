package kubeletbugs

import (
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/kit"
)

// Every bug declared here is registered under its derived name, has an
// identity Check accepts, specs on both sides of the fix, nightly cells
// and a verdict table its Classify reaches.
func TestEveryBugHasIdentitySpecsAndCells(t *testing.T) {
	if len(kit.BugsOf("kubernetes")) == 0 {
		t.Fatal("no kubelet bug is registered")
	}
	for _, b := range kit.BugsOf("kubernetes") {
		for _, err := range kit.Verify(b) {
			t.Errorf("%s: %v", b.Name(), err)
		}
	}
	if b, ok := kit.Lookup(Name); !ok || b.ID != "kubernetes#94080" {
		t.Errorf("Name %q names no bug (%v)", Name, b)
	}
}

// The window leaves a fixed kubelet three times what it needs to restart
// the container, and grows with how slowly this node starts pods.
func TestWindowScalesWithTheControl(t *testing.T) {
	if restartNeeds != 11*time.Second {
		t.Errorf("restartNeeds = %s", restartNeeds)
	}
	if got := window(3 * time.Second); got != 45*time.Second {
		t.Errorf("window(3s) = %s", got)
	}
	if window(20*time.Second) <= window(3*time.Second) {
		t.Error("a slower node gets no longer window")
	}
}

func TestProbeEventsCountsRepeats(t *testing.T) {
	events := []string{
		"Normal Pulled x1 kubelet: Container image \"relapse.local/busybox:1\" already present on machine",
		"Warning Unhealthy x7 kubelet: Liveness probe failed: command \"sleep 10\" timed out",
		"Warning Unhealthy x2 kubelet: Liveness probe errored: rpc error: code = DeadlineExceeded desc = failed to exec in container: timeout 1s exceeded",
		"Normal Killing x2 kubelet: Container sleep failed liveness probe, will be restarted",
	}
	if n := probeEvents(events, "probe failed"); n != 7 {
		t.Errorf("failed = %d", n)
	}
	if n := probeEvents(events, "probe errored"); n != 2 {
		t.Errorf("errored = %d", n)
	}
}
