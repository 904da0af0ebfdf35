package chaos

import (
	"context"
	"sync"
	"time"
)

// faultBound ends what a fault runs in the background (a load, a
// watcher) when nothing disarms it: longer than any explorer budget, so
// only a lost disarm meets it, and no wait is without a deadline.
const faultBound = 2 * time.Hour

// armed is the Armed of most kinds: a disarm run once (a second call
// returns the first's outcome) and a line saying what the fault did.
type armed struct {
	once   sync.Once
	err    error
	disarm func(context.Context) error
	saw    func() string
}

func (a *armed) Disarm(ctx context.Context) error {
	a.once.Do(func() { a.err = a.disarm(ctx) })
	return a.err
}

func (a *armed) Saw() string { return a.saw() }
