package suitekit

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// LockWaitEnv, when set (a Go duration such as 40m), is how long every
// spec's run waits for the host lock instead of the spec's own bound: on a
// machine where other long runs hold the lock (the chaos explorer's
// 15-minute budgets) a spec would otherwise give up after its 10 or 15
// minutes and fail for a reason that is not its bug's.
const LockWaitEnv = "RELAPSE_LOCK_WAIT"

// lockWait is the spec's bound, or $RELAPSE_LOCK_WAIT when set; a bad
// value fails the spec before its run changes anything.
func lockWait(spec time.Duration) time.Duration {
	GinkgoHelper()
	v := os.Getenv(LockWaitEnv)
	if v == "" {
		return spec
	}
	d, err := time.ParseDuration(v)
	Expect(err == nil && d > 0).To(BeTrue(), "%s=%q: want a positive Go duration such as 40m", LockWaitEnv, v)
	return d
}
