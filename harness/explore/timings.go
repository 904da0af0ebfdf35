package explore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/measure"
)

// timings are a run's bound and the latencies each operation had so far:
// every trial of the run (containerd alone or a cluster) adds to them, so
// a deadline follows the machine's speed through the whole run.
type timings struct {
	bound Bound
	lat   map[string]*measure.Latencies
}

func newTimings(b Bound, ops ...string) timings {
	lat := map[string]*measure.Latencies{}
	for _, op := range ops {
		lat[op] = &measure.Latencies{}
	}
	return timings{bound: b, lat: lat}
}

// deadline is the bound of op now.
func (t timings) deadline(op string) time.Duration { return t.bound.Of(t.lat[op]) }

// bounded runs op on each of n items, c at a time, each within the bound
// of its operation (given once more after relieve removed the faults in
// force: chaos.Deadline); the first that outlives it is returned as late. An
// operation that fails before its deadline is no violation (a fault may
// make it fail); only one that does not return is.
func (t timings) bounded(ctx context.Context, relieve func() bool, op string, n, c int, do func(ctx context.Context, i int) error) (late string) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		slot = make(chan struct{}, max(c, 1))
	)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		mu.Lock()
		stop := late != ""
		mu.Unlock()
		if stop {
			break
		}
		slot <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slot }()
			dl := chaos.NewDeadline(ctx, t.deadline(op), relieve)
			defer dl.Stop()
			start := time.Now()
			err := do(dl.Context(), i)
			took := time.Since(start)
			switch {
			case err == nil && !dl.Relieved():
				t.lat[op].Add(took)
			case err != nil && dl.Context().Err() != nil && ctx.Err() == nil:
				mu.Lock()
				if late == "" {
					late = fmt.Sprintf("%s %d of %d did not return %s (%s)", op, i+1, n, dl.Within(), err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return late
}
