package poll

import (
	"context"
	"errors"
	"testing"
	"time"
)

// counting returns a check that is done on call number doneAt (never when
// 0) and counts its calls.
func counting(doneAt int, calls *int) Check {
	return func(context.Context) (bool, error) {
		*calls++
		return doneAt > 0 && *calls >= doneAt, nil
	}
}

func TestWithinReturnsWhenDone(t *testing.T) {
	calls := 0
	if err := Within(context.Background(), time.Hour, 0, counting(3, &calls)); err != nil {
		t.Fatalf("Within = %v, want nil", err)
	}
	if calls != 3 {
		t.Errorf("check called %d times, want 3 (stop at the first done)", calls)
	}
}

func TestWithinZeroBoundTriesOnce(t *testing.T) {
	calls := 0
	err := Within(context.Background(), 0, time.Hour, counting(0, &calls))
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Within = %v, want ErrDeadline", err)
	}
	if calls != 1 {
		t.Errorf("check called %d times, want 1", calls)
	}
	calls = 0
	if err := Within(context.Background(), 0, time.Hour, counting(1, &calls)); err != nil {
		t.Errorf("a check done at once with a bound of 0: Within = %v, want nil", err)
	}
}

func TestCheckErrorEndsTheWait(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	err := Within(context.Background(), time.Hour, 0, func(context.Context) (bool, error) {
		calls++
		if calls == 2 {
			return false, boom
		}
		return false, nil
	})
	if !errors.Is(err, boom) || calls != 2 {
		t.Errorf("Within = %v after %d calls, want boom after 2", err, calls)
	}
}

// A context cancelled during a check ends a wait whose interval would
// otherwise be an hour: the wait is not a sleep that ignores ctx.
func TestCancelEndsTheWait(t *testing.T) {
	for name, wait := range map[string]func(context.Context, Check) error{
		"Within": func(ctx context.Context, c Check) error { return Within(ctx, time.Hour, time.Hour, c) },
		"Until":  func(ctx context.Context, c Check) error { return Until(ctx, time.Hour, c) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			err := wait(ctx, func(context.Context) (bool, error) {
				calls++
				cancel()
				return false, nil
			})
			if !errors.Is(err, context.Canceled) || calls != 1 {
				t.Errorf("%s = %v after %d calls, want context.Canceled after 1", name, err, calls)
			}
		})
	}
}

// Cancelled during the interval (from another goroutine, after the first
// call): the wait returns ctx's error without a second call.
func TestCancelDuringTheInterval(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	called := make(chan struct{})
	calls := 0
	go func() { <-called; cancel() }()
	err := Until(ctx, time.Hour, func(context.Context) (bool, error) {
		calls++
		if calls == 1 {
			close(called)
		}
		return false, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Until = %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("check called %d times, want 1", calls)
	}
}

func TestUntilIsBoundedByCtxOnly(t *testing.T) {
	calls := 0
	if err := Until(context.Background(), 0, counting(50, &calls)); err != nil || calls != 50 {
		t.Errorf("Until = %v after %d calls, want nil after 50", err, calls)
	}
}
