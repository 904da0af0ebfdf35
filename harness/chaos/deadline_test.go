package chaos

import (
	"context"
	"testing"
	"time"
)

// A deadline with faults to remove gives the operation its bound again;
// without, it ends at the bound. Only the order of events is checked: the
// bound is short and the waits are the test's own deadlines, not
// thresholds on this machine's speed.
func TestDeadlineRelievesOnceThenEnds(t *testing.T) {
	calls := 0
	dl := NewDeadline(context.Background(), 20*time.Millisecond, func() bool { calls++; return true })
	defer dl.Stop()
	select {
	case <-dl.Context().Done():
	case <-time.After(time.Minute):
		t.Fatal("the deadline never ended")
	}
	if !dl.Relieved() || calls != 1 {
		t.Fatalf("relieved %v after %d calls; want relieved once", dl.Relieved(), calls)
	}
	if w := dl.Within(); w != "within 20ms, nor 20ms after the faults in force were removed" {
		t.Errorf("Within() = %q", w)
	}
}

func TestDeadlineWithNothingToRemoveEndsAtTheBound(t *testing.T) {
	dl := NewDeadline(context.Background(), 10*time.Millisecond, func() bool { return false })
	defer dl.Stop()
	select {
	case <-dl.Context().Done():
	case <-time.After(time.Minute):
		t.Fatal("the deadline never ended")
	}
	if dl.Relieved() || dl.Within() != "within 10ms" {
		t.Errorf("relieved %v, %q; want not relieved, within 10ms", dl.Relieved(), dl.Within())
	}
}

func TestDeadlineStoppedBeforeTheBoundNeverRelieves(t *testing.T) {
	called := make(chan struct{}, 1)
	dl := NewDeadline(context.Background(), time.Hour, func() bool { called <- struct{}{}; return true })
	dl.Stop()
	if dl.Context().Err() == nil {
		t.Fatal("a stopped deadline's context is still live")
	}
	select {
	case <-called:
		t.Fatal("relieve was called for an operation that returned in time")
	default:
	}
}
