package poll

import (
	"context"
	"errors"
	"time"
)

// ErrDeadline is what Within returns when its bound passed before the
// check was done.
var ErrDeadline = errors.New("deadline passed")

// Check looks once. done ends the wait successfully; a non-nil error ends
// it at once with that error (something went wrong that waiting will not
// mend). A check that only has to try again returns false, nil, and keeps
// what it saw in its closure for the caller's error message.
type Check func(ctx context.Context) (done bool, err error)

// Within calls check, then again every `every`, until it is done (nil),
// fails (its error), `within` has passed since the first call
// (ErrDeadline), or ctx ends (ctx's error). The check is always called at
// least once, so a bound of 0 means "try once". The bound is tested
// between calls, not during one: a check in progress is cut off by ctx
// only.
func Within(ctx context.Context, within, every time.Duration, check Check) error {
	deadline := time.Now().Add(within)
	return loop(ctx, every, check, func() bool { return time.Now().After(deadline) })
}

// Until is Within bounded by ctx alone: for callers whose ctx already
// carries the deadline of the wait.
func Until(ctx context.Context, every time.Duration, check Check) error {
	return loop(ctx, every, check, func() bool { return false })
}

func loop(ctx context.Context, every time.Duration, check Check, passed func() bool) error {
	for {
		done, err := check(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if passed() {
			return ErrDeadline
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
