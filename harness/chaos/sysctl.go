package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
)

// Sysctl sets a kernel parameter for the duration of an experiment.
type Sysctl struct {
	// Key in dotted form ("fs.pipe-user-pages-soft").
	Key   string
	Value string
}

// SysctlPath is the /proc/sys file of a dotted key.
func SysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// ReadSysctl reads a kernel parameter on a node.
func ReadSysctl(ctx context.Context, n node.Node, key string) (string, error) {
	b, err := n.ReadFile(ctx, SysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s on %s: %w", key, n.Name(), err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(ctx context.Context, n node.Node, key, value string) error {
	if err := n.WriteFile(ctx, SysctlPath(key), []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("setting sysctl %s=%s on %s: %w", key, value, n.Name(), err)
	}
	return nil
}

// Apply records the old value in the journal, sets the new one and adds
// the undo to the ledger. The undo writes the old value back and checks it.
func (s Sysctl) Apply(ctx context.Context, n node.Node, j *Journal, l *Ledger) error {
	old, err := ReadSysctl(ctx, n, s.Key)
	if err != nil {
		return err
	}
	forget, err := j.Record("sysctl", n.Name(), map[string]string{"key": s.Key, "old": old, "new": s.Value})
	if err != nil {
		return err
	}
	restore := func(ctx context.Context) (string, error) {
		if err := writeSysctl(ctx, n, s.Key, old); err != nil {
			return "", err
		}
		now, err := ReadSysctl(ctx, n, s.Key)
		if err != nil {
			return "", err
		}
		if now != old {
			return now, fmt.Errorf("sysctl %s reads %q after restoring %q", s.Key, now, old)
		}
		return now, forget()
	}
	if err := writeSysctl(ctx, n, s.Key, s.Value); err != nil {
		_, _ = restore(context.WithoutCancel(ctx))
		return err
	}
	l.Add(report.Change{Kind: "sysctl", Target: s.Key, Before: old, Applied: s.Value}, restore)
	return nil
}

func init() {
	RegisterLocalRepairer("sysctl", func(ctx context.Context, e Entry) (string, error) {
		key, old := e.Data["key"], e.Data["old"]
		if err := writeSysctl(ctx, local.New(), key, old); err != nil {
			return "", err
		}
		return fmt.Sprintf("restored %s to %s (run %s had set %s)", key, old, e.RunID, e.Data["new"]), nil
	})
}
