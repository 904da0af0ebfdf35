package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
)

// Sysctl sets a kernel parameter on the run's node for the duration of an
// experiment.
type Sysctl struct {
	// Key in dotted form ("fs.pipe-user-pages-soft").
	Key   string
	Value string
}

// Apply records the old value in the journal, sets the new one and adds
// the undo to the run's ledger. The undo writes the old value back and
// checks it; it runs when the ledger is undone (the trigger disarmed, or
// the run's end), and a killed run's entry is repaired by the next run.
func (s Sysctl) Apply(ctx context.Context, r *run.Run) error {
	_, err := s.apply(ctx, r)
	return err
}

// apply is Apply returning the undo, for a fault disarmed before the run
// ends; the ledger's entry then finds it done.
func (s Sysctl) apply(ctx context.Context, r *run.Run) (run.Undo, error) {
	n := r.Node
	old, err := node.ReadSysctl(ctx, n, s.Key)
	if err != nil {
		return nil, err
	}
	restore, err := r.Journal.Own("sysctl", n.Name(), map[string]string{"key": s.Key, "old": old, "new": s.Value},
		func(ctx context.Context) error {
			if err := node.WriteSysctl(ctx, n, s.Key, old); err != nil {
				return err
			}
			now, err := node.ReadSysctl(ctx, n, s.Key)
			if err != nil {
				return err
			}
			if now != old {
				return fmt.Errorf("sysctl %s reads %q after restoring %q", s.Key, now, old)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	undo := onceUndo(func(ctx context.Context) (string, error) {
		err := restore(ctx)
		now, _ := node.ReadSysctl(ctx, n, s.Key)
		return now, err
	})
	if err := node.WriteSysctl(ctx, n, s.Key, s.Value); err != nil {
		_, _ = undo(context.WithoutCancel(ctx))
		return nil, err
	}
	r.Ledger.Add(report.Change{Kind: "sysctl", Target: s.Key, Before: old, Applied: s.Value}, undo)
	return undo, nil
}

// onceUndo runs undo the first time it is called and returns that
// outcome after: a fault's Disarm and the ledger may both call it.
func onceUndo(undo run.Undo) run.Undo {
	var once sync.Once
	var after string
	var err error
	return func(ctx context.Context) (string, error) {
		once.Do(func() { after, err = undo(ctx) })
		return after, err
	}
}

func init() {
	run.RegisterLocalRepairer("sysctl", func(ctx context.Context, e run.Entry) (string, error) {
		key, old := e.Data["key"], e.Data["old"]
		if _, err := run.CheckTarget("restore the sysctl", node.SysctlPath(key), "/proc/sys"); err != nil {
			return "", err
		}
		if strings.TrimSpace(old) == "" {
			return "", fmt.Errorf("refusing to restore sysctl %s: the entry records no old value", key)
		}
		if err := node.WriteSysctl(ctx, local.New(), key, old); err != nil {
			return "", err
		}
		return fmt.Sprintf("restored %s to %s (run %s had set %s)", key, old, e.RunID, e.Data["new"]), nil
	})
}
