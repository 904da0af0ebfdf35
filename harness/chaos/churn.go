package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/measure"
)

// Churn starts containers (or pods) over and over, as production does, at
// a chosen rate and concurrency, and measures every start.
type Churn struct {
	// Rate is starts per second; 0 starts as fast as Concurrency allows.
	Rate float64
	// Concurrency is how many starts may be in flight.
	Concurrency int
	// Max bounds the number of starts; Duration bounds the time.
	Max      int
	Duration time.Duration
	// StartTimeout bounds one start; a start that exceeds it is "stuck" and
	// ends the churn, like the seed's loop that stopped when a
	// `docker run` did not return. It is a floor: once starts have been
	// measured, a start is stuck only after StuckFactor times the run's own
	// 99th-percentile start latency, so a loaded machine's slow starts are
	// not taken for stuck ones.
	StartTimeout time.Duration
	// StuckFactor scales the measured latency (default 10).
	StuckFactor float64
	// Relieve, when set, is called when a start outlives its deadline:
	// it removes the faults in force and says whether there were any,
	// and the start gets its deadline again (chaos.Deadline).
	Relieve func() bool
	// Measured receives every completed start's latency (a fresh one when nil).
	Measured *measure.Latencies
	// Start starts number i; it must honour ctx.
	Start func(ctx context.Context, i int) error
}

// ChurnResult is what a churn did.
type ChurnResult struct {
	Started int `json:"started"`
	Failed  int `json:"failed"`
	Stuck   int `json:"stuck"`
	// StoppedBy says why the churn ended.
	StoppedBy string          `json:"stopped_by"`
	Elapsed   time.Duration   `json:"elapsed"`
	Latencies []time.Duration `json:"-"`
	Errors    []string        `json:"errors,omitempty"`
}

// Rate is the achieved starts per second.
func (r ChurnResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Started) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0..100) of start latency.
func (r ChurnResult) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

// histogramBounds are the upper edges of the latency histogram's buckets.
var histogramBounds = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second}

// Histogram renders the start latencies as "<=50ms: 3, <=100ms: 12, ...".
func (r ChurnResult) Histogram() string {
	counts := make([]int, len(histogramBounds)+1)
	for _, l := range r.Latencies {
		i := sort.Search(len(histogramBounds), func(i int) bool { return l <= histogramBounds[i] })
		counts[i]++
	}
	var parts []string
	for i, c := range counts {
		if i < len(histogramBounds) {
			parts = append(parts, fmt.Sprintf("<=%s: %d", histogramBounds[i], c))
		} else {
			parts = append(parts, fmt.Sprintf(">%s: %d", histogramBounds[len(histogramBounds)-1], c))
		}
	}
	return strings.Join(parts, ", ")
}

// Summary is one line for reports.
func (r ChurnResult) Summary() string {
	return fmt.Sprintf("%d started, %d failed, %d stuck in %s (%.2f starts/s; p50 %s, p95 %s, max %s); stopped by %s",
		r.Started, r.Failed, r.Stuck, r.Elapsed.Round(time.Millisecond), r.Rate(),
		r.Percentile(50).Round(time.Millisecond), r.Percentile(95).Round(time.Millisecond),
		r.Percentile(100).Round(time.Millisecond), r.StoppedBy)
}

// acquire takes a slot for the next start, or returns false when the churn
// must stop (cancelled, a finding, a stuck start).
func acquire(ctx context.Context, stop <-chan struct{}, halt chan string, slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	case r := <-halt:
		putBack(halt, r)
		return false
	}
	// A free slot does not outrank something that already happened.
	select {
	case <-ctx.Done():
	case <-stop:
	case r := <-halt:
		putBack(halt, r)
	default:
		return true
	}
	<-slots
	return false
}

// putBack returns a halt reason taken to look at. Never blocking: between
// the take and the put another stuck start may have filled the channel
// (its send does not block either), and the first reason suffices. Two
// starts relieved together (chaos.Deadline) time out together, and a
// blocking put-back hung the churn here.
func putBack(halt chan string, r string) {
	select {
	case halt <- r:
	default:
	}
}

// stopReason says why the loop stops, abandoning starts in flight unless
// the churn simply ran for its Duration.
func (c Churn) stopReason(ctx context.Context, stop <-chan struct{}, halt chan string, begin time.Time, abandon func()) string {
	select {
	case r := <-halt:
		return r
	default:
	}
	select {
	case <-stop:
		abandon()
		return "a detector finding"
	default:
	}
	if c.Duration > 0 && time.Since(begin) >= c.Duration {
		return "duration " + c.Duration.String()
	}
	abandon()
	return "cancellation"
}

// startRecovering runs one start, turning a panic into an error: a panic
// in a goroutine would end relapse before it puts the host back.
func startRecovering(ctx context.Context, start func(context.Context, int) error, i int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("start %d panicked: %v", i, p)
		}
	}()
	return start(ctx, i)
}

// errStuck marks a start that exceeded StartTimeout.
var errStuck = errors.New("start did not return")

// Run churns until Max starts, Duration, a stuck start, stop being closed
// (a detector found something) or ctx ends, and waits for starts in flight
// (each is bounded by StartTimeout).
func (c Churn) Run(ctx context.Context, stop <-chan struct{}) ChurnResult {
	conc := max(c.Concurrency, 1)
	var (
		mu  sync.Mutex
		res ChurnResult
		wg  sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c.Duration > 0 {
		var stopTimer context.CancelFunc
		ctx, stopTimer = context.WithTimeout(ctx, c.Duration)
		defer stopTimer()
	}
	// Starts in flight are abandoned (cancelled) when a detector has seen
	// what it waited for or the run is interrupted; they finish on their own
	// when the churn merely reached its bound.
	flights, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	slots := make(chan struct{}, conc)
	halt := make(chan string, 1)
	var tick <-chan time.Time
	if c.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / c.Rate))
		defer t.Stop()
		tick = t.C
	}
	measured := c.Measured
	if measured == nil {
		measured = &measure.Latencies{}
	}
	factor := c.StuckFactor
	if factor <= 0 {
		factor = 10
	}
	begin := time.Now()
	reason := ""
	for i := 0; c.Max == 0 || i < c.Max; i++ {
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
			}
		}
		if !acquire(ctx, stop, halt, slots) {
			reason = c.stopReason(ctx, stop, halt, begin, abandon)
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-slots }()
			dl := NewDeadline(flights, measured.Scaled(c.StartTimeout, factor), c.Relieve)
			defer dl.Stop()
			sctx := dl.Context()
			start := time.Now()
			err := startRecovering(sctx, c.Start, i)
			lat := time.Since(start)
			if err == nil && !dl.Relieved() {
				measured.Add(lat)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				res.Started++
				res.Latencies = append(res.Latencies, lat)
			case flights.Err() != nil:
				res.Stuck++
				res.Errors = append(res.Errors, fmt.Sprintf("start %d: %v: abandoned after %s", i, errStuck, lat.Round(time.Millisecond)))
			case sctx.Err() != nil:
				res.Stuck++
				res.Errors = append(res.Errors, fmt.Sprintf("start %d: %v %s", i, errStuck, dl.Within()))
				select {
				case halt <- fmt.Sprintf("start %d did not return %s", i, dl.Within()):
				default:
				}
			default:
				res.Failed++
				res.Errors = append(res.Errors, fmt.Sprintf("start %d: %v", i, err))
			}
		}(i)
	}
	wg.Wait()
	if reason == "" {
		reason = fmt.Sprintf("max %d starts", c.Max)
		select {
		case r := <-halt:
			reason = r
		default:
		}
	}
	res.Elapsed = time.Since(begin)
	res.StoppedBy = reason
	return res
}
