package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Deadline bounds one operation of a schedule. Faults make operations
// slow by design (a 5 s delay on every read of a shim makes a start take
// minutes), so a deadline passing while faults are in force proves
// nothing yet: Relieve removes them, and the operation gets its bound
// once more from then. A fault's slowness passes when the fault goes; a
// hang (a runc init blocked on a pipe that is still full, a lock that is
// never released) does not, and that is the violation.
type Deadline struct {
	ctx      context.Context
	cancel   context.CancelFunc
	bound    time.Duration
	mu       sync.Mutex
	timer    *time.Timer
	relieved atomic.Bool
}

// NewDeadline is a deadline d from now under parent; relieve (nil: none)
// is called when d passes and says whether it removed faults that were
// in force during the operation.
func NewDeadline(parent context.Context, d time.Duration, relieve func() bool) *Deadline {
	ctx, cancel := context.WithCancel(parent)
	dl := &Deadline{ctx: ctx, cancel: cancel, bound: d}
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.timer = time.AfterFunc(d, func() {
		if relieve != nil && !dl.relieved.Load() && relieve() {
			dl.relieved.Store(true)
			dl.mu.Lock()
			dl.timer.Reset(d)
			dl.mu.Unlock()
			return
		}
		cancel()
	})
	return dl
}

// Context is the operation's context: done when the deadline passes for
// good, or when parent is.
func (dl *Deadline) Context() context.Context { return dl.ctx }

// Stop releases the deadline's timer and context.
func (dl *Deadline) Stop() {
	dl.mu.Lock()
	dl.timer.Stop()
	dl.mu.Unlock()
	dl.cancel()
}

// Relieved says whether the operation outlived its bound with faults in
// force and was given its bound again after they were removed.
func (dl *Deadline) Relieved() bool { return dl.relieved.Load() }

// Within says how long the operation had: "within 1m34s", or that and
// the same again after the faults were removed.
func (dl *Deadline) Within() string {
	b := dl.bound.Round(time.Millisecond)
	if dl.Relieved() {
		return fmt.Sprintf("within %s, nor %s after the faults in force were removed", b, b)
	}
	return fmt.Sprintf("within %s", b)
}
