package runckit

import (
	"context"
	"fmt"
	"time"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Hold leaves the process a finding names in place for d, so a maintainer
// can look at it by hand (cat /proc/PID/stack, strace, gdb); a cancelled
// run stops holding at once. Engine paths use it too.
func Hold(ctx context.Context, env *scenario.Env, d time.Duration, f report.Finding) {
	if d <= 0 || len(f.Processes) == 0 {
		return
	}
	pid := f.Processes[0].PID
	env.Logf("holding pid %d for %s: try  cat /proc/%d/stack; ls -l /proc/%d/fd", pid, d, pid, pid)
	env.Event("holding the stuck process", fmt.Sprintf("pid %d for %s", pid, d))
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
