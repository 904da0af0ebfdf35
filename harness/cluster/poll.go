package cluster

import (
	"context"
	"time"

	"github.com/relapse-dev/relapse/harness/poll"
)

// ErrPollDeadline is what Poll returns when its bound passed first.
var ErrPollDeadline = poll.ErrDeadline

// Poll calls check every `every` until it reports done, ctx ends (ctx's
// error), or `within` passes (ErrPollDeadline). Every wait on a cluster is
// one of these: none may outlast its bound because the cluster hangs.
// Callers keep what check saw last for their own error message.
func Poll(ctx context.Context, within, every time.Duration, check func(context.Context) bool) error {
	return poll.Within(ctx, within, every, func(ctx context.Context) (bool, error) {
		return check(ctx), nil
	})
}
