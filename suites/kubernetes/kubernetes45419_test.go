package kubernetes_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/plegnotready"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// PLEG is not healthy: https://github.com/kubernetes/kubernetes/issues/45419
// relists held by relapse's CRI proxy past the 3-minute threshold.
var _ = Describe("kubernetes#45419 PLEG not healthy -> node NotReady", suitekit.BugLabels(plegnotready.Bug, suitekit.Slow, "k8s"), Ordered, ContinueOnFailure, func() {
	cleanClusterHost()

	It("measures the NotReady window while ListPodSandbox/ListContainers are held, and the node comes back",
		ComponentSemVerConstraint("kubernetes", "1.30.14"), SpecTimeout(40*time.Minute), func(ctx SpecContext) {
			res := suitekit.Run(ctx, experiment.Options{Scenario: plegnotready.Name, Versions: map[string]string{"kubernetes": "1.30.14"}})
			suitekit.ExpectVerdict(res, report.Reproduced)
			f := res.Report.Findings[0]
			Expect(f.Kind).To(Equal(nodeready.KindNotReadyWindow))
			Expect(f.Summary).To(ContainSubstring("PLEG is not healthy"))
			Expect(strings.Join(f.Reasons, "\n")).To(ContainSubstring("threshold is 3m0s"))
			// cleanClusterHost's AfterEach checks the host right after this.
		})
})
