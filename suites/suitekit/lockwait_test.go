package suitekit

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// RELAPSE_LOCK_WAIT replaces a spec's own bound; unset leaves it; a value
// that is not a positive duration fails, naming the variable and what
// would be right.
func TestLockWaitFromEnv(t *testing.T) {
	g := NewWithT(t)
	RegisterTestingT(t)
	t.Setenv(LockWaitEnv, "")
	g.Expect(lockWait(10 * time.Minute)).To(Equal(10 * time.Minute))
	t.Setenv(LockWaitEnv, "40m")
	g.Expect(lockWait(10 * time.Minute)).To(Equal(40 * time.Minute))
	for _, bad := range []string{"40", "-5m", "0s"} {
		t.Setenv(LockWaitEnv, bad)
		failures := InterceptGomegaFailures(func() { lockWait(10 * time.Minute) })
		g.Expect(failures).To(ConsistOf(And(ContainSubstring(LockWaitEnv+`="`+bad+`"`), ContainSubstring("such as 40m"))), "value %q", bad)
	}
}
