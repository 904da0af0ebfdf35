package chaos

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A start that returns nil is never stuck, however long a loaded machine
// makes it take; a sleep is a lower bound on its latency, never an upper one.
func TestChurnStopsAtMaxAndMeasuresEveryStart(t *testing.T) {
	const sleep = 5 * time.Millisecond
	res := Churn{Concurrency: 3, Max: 20, StartTimeout: time.Second,
		Start: func(ctx context.Context, i int) error { time.Sleep(sleep); return nil }}.Run(context.Background(), nil)
	if res.Started != 20 || res.Failed != 0 || res.Stuck != 0 || len(res.Latencies) != 20 {
		t.Fatalf("got %+v", res)
	}
	if res.StoppedBy != "max 20 starts" || res.Percentile(0) < sleep {
		t.Fatalf("stopped by %q, fastest start %s (each sleeps %s)", res.StoppedBy, res.Percentile(0), sleep)
	}
	if n := histogramTotal(t, res.Histogram()); n != 20 {
		t.Fatalf("histogram %s counts %d starts, want 20", res.Histogram(), n)
	}
}

// histogramTotal adds up the counts of a Histogram line.
func histogramTotal(t *testing.T, h string) int {
	t.Helper()
	total := 0
	for _, part := range strings.Split(h, ", ") {
		_, count, ok := strings.Cut(part, ": ")
		n, err := strconv.Atoi(count)
		if !ok || err != nil {
			t.Fatalf("histogram part %q is not \"<bound>: <count>\"", part)
		}
		total += n
	}
	return total
}

func TestHistogramBuckets(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	r := ChurnResult{Latencies: []time.Duration{ms(1), ms(50), ms(51), ms(100), ms(999), ms(1000), ms(1001), ms(5000), ms(5001), time.Minute}}
	want := "<=50ms: 2, <=100ms: 2, <=250ms: 0, <=500ms: 0, <=1s: 2, <=2.5s: 1, <=5s: 1, >5s: 2"
	if got := r.Histogram(); got != want {
		t.Errorf("Histogram() = %q, want %q", got, want)
	}
}

func TestChurnEndsOnAStuckStartLikeTheSeedLoop(t *testing.T) {
	res := Churn{Concurrency: 2, Max: 1000, StartTimeout: 100 * time.Millisecond,
		Start: func(ctx context.Context, i int) error {
			if i == 5 {
				<-ctx.Done() // this start never returns on its own
				return ctx.Err()
			}
			return nil
		}}.Run(context.Background(), nil)
	if res.Stuck != 1 || !strings.Contains(res.StoppedBy, "start 5 did not return within 100ms") {
		t.Fatalf("got %+v", res)
	}
	if res.Started >= 1000 {
		t.Fatalf("churn went on after a stuck start: %d started", res.Started)
	}
}

// The stuck start ends because the churn cancels it on the finding, not
// at its StartTimeout (a minute, far past anything it waits for).
func TestChurnAbandonsStartsInFlightOnAFinding(t *testing.T) {
	stop := make(chan struct{})
	var ended error
	res := Churn{Concurrency: 1, StartTimeout: time.Minute,
		Start: func(ctx context.Context, i int) error {
			if i == 2 {
				close(stop)
				<-ctx.Done()
				ended = ctx.Err()
				return ended
			}
			return nil
		}}.Run(context.Background(), stop)
	if res.StoppedBy != "a detector finding" || res.Stuck != 1 || res.Started != 2 {
		t.Fatalf("got %+v", res)
	}
	if !errors.Is(ended, context.Canceled) || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "abandoned after") {
		t.Fatalf("the stuck start ended by %v (%q), want abandoned: cancelled, not timed out", ended, res.Errors)
	}
}

// The rate is a ceiling: a ticker never fires early, so n starts take at
// least n-1 intervals, however loaded the machine (load only slows it).
func TestChurnCountsFailuresAndRespectsRate(t *testing.T) {
	const rate = 50
	res := Churn{Rate: rate, Concurrency: 4, Max: 10, StartTimeout: time.Second,
		Start: func(ctx context.Context, i int) error {
			if i%2 == 1 {
				return errors.New("boom")
			}
			return nil
		}}.Run(context.Background(), nil)
	if res.Started != 5 || res.Failed != 5 || len(res.Errors) != 5 {
		t.Fatalf("got %+v", res)
	}
	if floor := 9 * time.Second / rate; res.Elapsed < floor {
		t.Fatalf("10 starts at %d/s took %s, less than the 9 intervals between them (%s)", rate, res.Elapsed, floor)
	}
}

// A halt reason taken to look at goes back without blocking, also when
// another stuck start filled the channel meanwhile (a blocking put-back
// hung a churn whose two starts timed out together).
func TestPutBackNeverBlocks(t *testing.T) {
	halt := make(chan string, 1)
	halt <- "start 3 did not return"
	r := <-halt
	halt <- "start 4 did not return" // another start, between take and put
	done := make(chan struct{})
	go func() { putBack(halt, r); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("putBack blocked on a full halt channel")
	}
	if got := <-halt; got != "start 4 did not return" {
		t.Errorf("halt holds %q, want the reason already there", got)
	}
}
