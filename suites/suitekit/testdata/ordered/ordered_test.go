// Package ordered is a suite that package secondary's test runs: an Ordered
// bug container whose first verdict spec's page check fails.
package ordered

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/suites/suitekit/secondary"
)

func TestOrdered(t *testing.T) {
	RegisterFailHandler(Fail)
	secondary.Report()
	RunSpecs(t, "ordered")
}

var _ = Describe("a bug", Ordered, ContinueOnFailure, func() {
	AfterEach(func() {
		secondary.Check("host state", func() { Expect("relapse-run-1").To(BeEmpty(), "run directories left") })
	})
	It("reproduces on the affected version", func() {
		secondary.Check("report page", func() {
			Expect(1427).To(BeNumerically("<=", 1400), "report.html is wider than the window")
		})
		Expect("REPRODUCED").To(Equal("REPRODUCED"))
	})
	It("is fixed on the next version", func() {
		Expect("NOT REPRODUCED").To(Equal("NOT REPRODUCED"))
	})
	It("comes back with the fix reverted", func() {
		Expect("NOT REPRODUCED").To(Equal("REPRODUCED"), "the verdict itself is wrong")
	})
	It("runs after a wrong verdict", func() {
		Expect(true).To(BeTrue())
	})
})
