package secondary

import (
	"fmt"
	"strings"
	"sync"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// Secondary checks say whether relapse's outputs and cleanup are right (the
// report's JUnit, its page, the errors it recorded, the host's state after
// a spec), not whether the bug reproduced. A failing one must not hide a
// verdict: it never stops the spec it runs in, nor skips a later spec of an
// Ordered container. Its failures are printed to the spec's output and
// collected, and the suite's AfterSuite (Report) fails with all of them,
// so the suite, and make test, still fail.
var secondary struct {
	sync.Mutex
	failures []string
}

// Check runs check, a function that asserts with Gomega, and records its
// failures (and a panic) as secondary failures of the current spec instead
// of failing it.
func Check(what string, check func()) {
	var failures []string
	func() {
		defer func() {
			if p := recover(); p != nil {
				failures = append(failures, fmt.Sprintf("panic: %v", p))
			}
		}()
		failures = gomega.InterceptGomegaFailures(check)
	}()
	if len(failures) == 0 {
		return
	}
	msg := fmt.Sprintf("%q, %s:\n  %s", ginkgo.CurrentSpecReport().FullText(), what, strings.ReplaceAll(strings.Join(failures, "\n"), "\n", "\n  "))
	ginkgo.GinkgoWriter.Printf("SECONDARY CHECK FAILED (reported after the suite; this spec's verdict stands): %s\n", msg)
	secondary.Lock()
	secondary.failures = append(secondary.failures, msg)
	secondary.Unlock()
}

// Failures are the secondary failures recorded so far.
func Failures() []string {
	secondary.Lock()
	defer secondary.Unlock()
	return append([]string(nil), secondary.failures...)
}

// Report registers the suite's AfterSuite, which fails with every
// secondary failure of the run: a node of its own in the suite's report,
// after every verdict spec has run. Call it once, before RunSpecs
// (suitekit.RunRootSuite does).
func Report() {
	ginkgo.AfterSuite(func() {
		if failures := Failures(); len(failures) > 0 {
			ginkgo.Fail(fmt.Sprintf("secondary checks failed (%d); every verdict spec ran and is reported on its own:\n%s",
				len(failures), strings.Join(failures, "\n")))
		}
	})
}
