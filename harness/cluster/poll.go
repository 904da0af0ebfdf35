package cluster

import (
	"context"
	"errors"
	"time"
)

// ErrPollDeadline is what Poll returns when its bound passed first.
var ErrPollDeadline = errors.New("deadline passed")

// Poll calls check every `every` until it reports done, ctx ends (ctx's
// error), or `within` passes (ErrPollDeadline). Every wait on a cluster is
// one of these: none may outlast its bound because the cluster hangs.
// Callers keep what check saw last for their own error message.
func Poll(ctx context.Context, within, every time.Duration, check func(context.Context) bool) error {
	deadline := time.Now().Add(within)
	for {
		if check(ctx) {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrPollDeadline
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
