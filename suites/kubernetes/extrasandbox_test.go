package kubernetes_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/extrasandbox"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// kubernetes#92613 https://github.com/kubernetes/kubernetes/issues/92613
// (and #75441): a second sandbox for a completed OnFailure pod; fixed in
// v1.19.4 by https://github.com/kubernetes/kubernetes/pull/92614.
var _ = Describe("kubernetes#92613 extra sandbox for completed OnFailure pods", Label("bug:kubernetes-92613", "component:kubernetes", "slow", "k8s"), Ordered, func() {
	var baseline suitekit.HostBaseline
	BeforeAll(func() {
		baseline = suitekit.TakeBaseline("kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory", "net.ipv4.ip_forward")
		DeferCleanup(baseline.ExpectClean)
	})
	AfterEach(func() { baseline.ExpectClean() })

	run := func(ctx SpecContext, version string) *experiment.Result {
		return suitekit.Run(ctx, experiment.Options{Scenario: extrasandbox.Name, Versions: map[string]string{"kubernetes": version}})
	}

	It("reproduces on 1.19.3: completed pods get a second sandbox and an extra CNI ADD",
		Label("affected"), ComponentSemVerConstraint("kubernetes", "1.19.3"), SpecTimeout(40*time.Minute), func(ctx SpecContext) {
			res := run(ctx, "1.19.3")
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Findings[0].Kind).To(Equal("extra-sandbox-for-completed-pod"))
			Expect(conditionValue(res.Report, "IP allocations")).To(HaveSuffix(" 0 matching no sandbox (leaked)"), "host-local releases by container ID")
		})

	It("reproduces on 1.19.3 with the seed's own trigger, a CronJob every minute",
		Label("affected", "trigger:cronjob"), ComponentSemVerConstraint("kubernetes", "1.19.3"), SpecTimeout(40*time.Minute), func(ctx SpecContext) {
			res := suitekit.Run(ctx, experiment.Options{Scenario: extrasandbox.Name, Versions: map[string]string{"kubernetes": "1.19.3"},
				Params: map[string]string{"trigger": "cronjob", "jobs": "3"}})
			suitekit.ExpectVerdict(res, report.Reproduced)
		})

	DescribeTable("does not reproduce once fixed, and the leak detector stays at zero under churn",
		Label("fixed"), func(ctx SpecContext, version string) {
			res := run(ctx, version)
			suitekit.ExpectVerdict(res, report.NotReproduced)
			Expect(res.Report.Findings).To(BeEmpty())
			Expect(res.Report.Verdict.Reason).To(ContainSubstring("0 IPs leaked"))
		},
		Entry("1.19.4, the fix", ComponentSemVerConstraint("kubernetes", "1.19.4"), SpecTimeout(40*time.Minute), "1.19.4"),
		Entry("1.30.14", ComponentSemVerConstraint("kubernetes", "1.30.14"), SpecTimeout(40*time.Minute), "1.30.14"),
	)
})

func conditionValue(r *report.Report, name string) string {
	for _, c := range r.Conditions {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
