package scenario

import (
	"context"
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect"
)

// ChurnWatched runs a churn while a detector watches; the first finding
// stops the churn (starts in flight are abandoned). It records the churn
// as a timeline step, its summary and latency histogram as conditions and
// its errors as evidence, and returns the finding, if any.
func (e *Env) ChurnWatched(ctx context.Context, name, detail string, churn chaos.Churn,
	watch func(context.Context) (detect.Finding, error)) (chaos.ChurnResult, *detect.Finding) {
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	found := make(chan detect.Finding, 1)
	halt := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A panic here would end relapse before it puts the host back.
		defer func() {
			if p := recover(); p != nil {
				e.Report.Errors = append(e.Report.Errors, fmt.Sprintf("detector panicked: %v", p))
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
