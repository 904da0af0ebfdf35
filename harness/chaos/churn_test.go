package chaos

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestChurnStopsAtMaxAndMeasuresEveryStart(t *testing.T) {
	res := Churn{Concurrency: 3, Max: 20, StartTimeout: time.Second,
		Start: func(ctx context.Context, i int) error { time.Sleep(5 * time.Millisecond); return nil }}.Run(context.Background(), nil)
	if res.Started != 20 || res.Failed != 0 || res.Stuck != 0 || len(res.Latencies) != 20 {
		t.Fatalf("got %+v", res)
	}
	if res.StoppedBy != "max 20 starts" || res.Percentile(50) < 5*time.Millisecond {
		t.Fatalf("stopped by %q, p50 %s", res.StoppedBy, res.Percentile(50))
	}
	if !strings.Contains(res.Histogram(), "<=50ms: 20") {
		t.Fatalf("histogram %s", res.Histogram())
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

func TestChurnAbandonsStartsInFlightOnAFinding(t *testing.T) {
	stop := make(chan struct{})
	begin := time.Now()
	res := Churn{Concurrency: 1, StartTimeout: time.Minute,
		Start: func(ctx context.Context, i int) error {
			if i == 2 {
				close(stop)
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}}.Run(context.Background(), stop)
	if res.StoppedBy != "a detector finding" || res.Stuck != 1 || res.Started != 2 {
		t.Fatalf("got %+v", res)
	}
	if time.Since(begin) > 10*time.Second {
		t.Fatal("the stuck start was not abandoned")
	}
}

func TestChurnCountsFailuresAndRespectsRate(t *testing.T) {
	begin := time.Now()
	res := Churn{Rate: 50, Concurrency: 4, Max: 10, StartTimeout: time.Second,
		Start: func(ctx context.Context, i int) error {
			if i%2 == 1 {
				return errors.New("boom")
			}
			return nil
		}}.Run(context.Background(), nil)
	if res.Started != 5 || res.Failed != 5 || len(res.Errors) != 5 {
		t.Fatalf("got %+v", res)
	}
	if took := time.Since(begin); took < 150*time.Millisecond {
		t.Fatalf("10 starts at 50/s took only %s", took)
	}
}
