package run

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/report"
)

// Undo puts one change back and says what it found afterwards.
type Undo func(ctx context.Context) (after string, err error)

// Ledger is the list of changes an experiment made, undone in reverse order.
type Ledger struct {
	mu      sync.Mutex
	changes []*entry
}

type entry struct {
	record report.Change
	undo   Undo
	done   bool
}

// Add registers a change that has been made, with its undo.
func (l *Ledger) Add(c report.Change, undo Undo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.AppliedAt.IsZero() {
		c.AppliedAt = time.Now().UTC()
	}
	l.changes = append(l.changes, &entry{record: c, undo: undo})
}

// AddDisposable records a change that cannot be put back and need not be:
// it lives only inside a node that is destroyed after the run.
func (l *Ledger) AddDisposable(c report.Change, why string) {
	c.Disposable, c.RestoreNote, c.After = true, why, "not restored"
	l.Add(c, nil)
	l.mu.Lock()
	l.changes[len(l.changes)-1].done = true
	l.mu.Unlock()
}

// UndoAll undoes every change not yet undone, newest first. It keeps going
// after an error so one failed undo does not leave the rest in place. Call it
// with a context that is not the (possibly cancelled) experiment's.
func (l *Ledger) UndoAll(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for i := len(l.changes) - 1; i >= 0; i-- {
		e := l.changes[i]
		if e.done {
			continue
		}
		after, err := e.undo(ctx)
		e.record.After = after
		e.record.RestoredAt = time.Now().UTC()
		e.done = true
		if err != nil {
			e.record.RestoreNote = err.Error()
			errs = append(errs, fmt.Errorf("undoing %s %s: %w", e.record.Kind, e.record.Target, err))
			continue
		}
		e.record.Restored = true
	}
	return errors.Join(errs...)
}

// Records returns the changes as the report shows them.
func (l *Ledger) Records() []report.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]report.Change, len(l.changes))
	for i, e := range l.changes {
		out[i] = e.record
	}
	return out
}
