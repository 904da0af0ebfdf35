package containerdmetrics

import (
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Claims says whether evidence gathered elsewhere (the chaos explorer)
// shows this bug: the same two lock-holding goroutines the scenario's own
// confirmation asks of containerd's goroutine dump. A stuck create alone
// is not enough; only the lock cycle is containerd#6772.
func (Scenario) Claims(o scenario.Observed) (bool, []string) {
	add, collect := LockStacks(o.GoroutineDump)
	if add == "" || collect == "" {
		return false, nil
	}
	return true, []string{
		"goroutine dump: (*Collector).Add (from tasks Create) blocked acquiring the go-metrics namespace lock",
		"goroutine dump: (*Collector).Collect (from a /v1/metrics scrape) blocked acquiring the collector lock",
	}
}
