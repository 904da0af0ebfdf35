package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/report"
)

// ChurnWatched runs a churn while a detector watches; the first finding
// stops the churn (starts in flight are abandoned). It records the churn
// as a timeline step, its summary and latency histogram as conditions and
// its errors as evidence, and returns the finding, if any.
func (e *Env) ChurnWatched(ctx context.Context, name, detail string, churn chaos.Churn,
	watch func(context.Context) (report.Finding, error)) (chaos.ChurnResult, *report.Finding) {
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	found := make(chan report.Finding, 1)
	halt := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A panic here would end relapse before it puts the host back.
		defer func() {
			if p := recover(); p != nil {
				e.Error(fmt.Sprintf("detector panicked: %v", p))
			}
		}()
		if f, err := watch(wctx); err == nil {
			found <- f
			close(halt)
		}
	}()
	var res chaos.ChurnResult
	_ = e.Timed(name, detail, func() error {
		res = churn.Run(ctx, halt)
		return nil
	})
	stopWatch()
	<-done
	e.Condition("churn", res.Summary())
	e.Condition("start latency histogram", res.Histogram())
	if len(res.Errors) > 0 {
		e.Evidence("churn errors", strings.Join(res.Errors, "\n"))
	}
	select {
	case f := <-found:
		return res, &f
	default:
		return res, nil
	}
}

// StartEngine starts an engine daemon as a timed step and registers its
// teardown: remove its containers (bounded: a deadlocked engine may not
// answer), keep the tail of its log as evidence, then stop it.
func (e *Env) StartEngine(name, dir string, start func() (engine.Managed, func(context.Context) error, error)) error {
	return e.Timed("start "+name, dir, func() error {
		m, stop, err := start()
		if err != nil {
			return err
		}
		e.DeferCleanup("stop "+name+", its shims and containers", func(ctx context.Context) error {
			rm, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			_ = m.RemoveAll(rm)
			e.Evidence(name+" log (last lines)", m.LogTail(ctx, 60))
			return stop(ctx)
		})
		return nil
	})
}
