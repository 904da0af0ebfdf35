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
var _ = Describe("kubernetes#92613 / kubernetes#92614 extra sandbox for completed OnFailure pods", suitekit.BugLabels(extrasandbox.Bug, suitekit.Slow, "k8s"), Ordered, ContinueOnFailure, func() {
	cleanClusterHost()

	run := func(ctx SpecContext, version string) *experiment.Result {
		return suitekit.Run(ctx, experiment.Options{Scenario: extrasandbox.Name, Versions: map[string]string{"kubernetes": version}})
	}

	It("reproduces on 1.19.3: completed pods get a second sandbox and an extra CNI ADD",
		Label(suitekit.Affected), ComponentSemVerConstraint("kubernetes", "1.19.3"), SpecTimeout(40*time.Minute), func(ctx SpecContext) {
			res := run(ctx, "1.19.3")
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Findings[0].Kind).To(Equal("extra-sandbox-for-completed-pod"))
			// host-local releases by container ID once a DEL comes; the extra
			// sandboxes kubelet stopped without one keep theirs while listed.
			Expect(conditionValue(res.Report, "IP allocations")).To(HaveSuffix(" 0 for sandboxes that are gone)"), "host-local releases by container ID")
		})

	It("reproduces on 1.19.3 with the seed's own trigger, a CronJob every minute",
		Label(suitekit.Affected, suitekit.Trigger("cronjob")), ComponentSemVerConstraint("kubernetes", "1.19.3"), SpecTimeout(40*time.Minute), func(ctx SpecContext) {
			res := suitekit.Run(ctx, experiment.Options{Scenario: extrasandbox.Name, Versions: map[string]string{"kubernetes": "1.19.3"},
				Params: map[string]string{"trigger": "cronjob", "jobs": "3"}})
			suitekit.ExpectVerdict(res, report.Reproduced)
		})

	// The seed ran dockershim: kubelet tears a stopped sandbox down with no
	// netns, so a plugin that looks the IP up through the netns (the TEST
	// plugin in fixtures/cni) never releases the extra sandbox's address.
	DescribeTable("with dockershim and the TEST netns-lookup plugin",
		Label(suitekit.Runtime("dockershim"), suitekit.CNI("netns-lookup")), func(ctx SpecContext, version string, want report.Result) {
			res := suitekit.Run(ctx, experiment.Options{Scenario: extrasandbox.Name, Versions: map[string]string{"kubernetes": version},
				Params: map[string]string{"runtime": "dockershim", "cni": "netns-lookup"}})
			suitekit.ExpectVerdict(res, want)
			if want == report.Reproduced {
				Expect(res.Report.Findings[0].Summary).To(ContainSubstring("IPs leaked (held for sandboxes that are not ready)"))
				return
			}
			Expect(res.Report.Verdict.Reason).To(ContainSubstring("0 IPs leaked"), "no false alarm on the fixed version")
		},
		Entry("1.19.3 leaks the extra sandboxes' IPs", Label(suitekit.Affected), ComponentSemVerConstraint("kubernetes", "1.19.3"), SpecTimeout(40*time.Minute), "1.19.3", report.Reproduced),
		Entry("1.19.4 leaks nothing", Label(suitekit.Fixed), ComponentSemVerConstraint("kubernetes", "1.19.4"), SpecTimeout(40*time.Minute), "1.19.4", report.NotReproduced),
	)

	// The 1.19 backport of kubernetes#92614 taken out of v1.19.4
	// (fixtures/patches/kubernetes) brings the second sandbox back.
	It("comes back on 1.19.4 with kubernetes#92614 reverted", Label(suitekit.FixRevert), ComponentSemVerConstraint("kubernetes", "1.19.4"),
		SpecTimeout(60*time.Minute), func(ctx SpecContext) {
			res := suitekit.Run(ctx, experiment.Options{Scenario: extrasandbox.Name, Versions: map[string]string{"kubernetes": "1.19.4"},
				Patches: map[string][]string{"kubernetes": {suitekit.Fixture("patches/kubernetes/revert-92614-v1.19.4.patch")}}})
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Verdict.ExpectedWhy).To(ContainSubstring("kubernetes#92614 taken out by a patch"))
		})

	DescribeTable("does not reproduce once fixed, and the leak detector stays at zero under churn",
		Label(suitekit.Fixed), func(ctx SpecContext, version string) {
			res := run(ctx, version)
			suitekit.ExpectVerdict(res, report.NotReproduced)
			Expect(res.Report.Findings).To(BeEmpty())
			Expect(res.Report.Verdict.Reason).To(ContainSubstring("0 IPs leaked"))
		},
		Entry("1.19.4, the fix", ComponentSemVerConstraint("kubernetes", "1.19.4"), SpecTimeout(40*time.Minute), "1.19.4"),
		Entry("1.30.14", ComponentSemVerConstraint("kubernetes", "1.30.14"), SpecTimeout(40*time.Minute), "1.30.14"),
	)

	// Today's stack: the newest Kubernetes on containerd 2.x, whose CRI
	// configuration is version 3 (the default containerd for 1.35 and on).
	It("does not reproduce on 1.37.2 with containerd 2.x (configuration version 3)",
		Label(suitekit.Fixed), ComponentSemVerConstraint("kubernetes", "1.37.2"), SpecTimeout(60*time.Minute), func(ctx SpecContext) {
			res := run(ctx, "1.37.2")
			suitekit.ExpectVerdict(res, report.NotReproduced)
			Expect(res.Report.Verdict.Reason).To(ContainSubstring("0 IPs leaked"))
			Expect(factValue(res.Report.Stack, "containerd configuration")).To(HavePrefix("version 3 "))
			Expect(res.Report.Components).To(ContainElement(And(HaveField("Component", "containerd"), HaveField("Version", HavePrefix("v2.")))))
			Expect(res.Report.Components).To(ContainElement(And(HaveField("Component", "kubernetes"), HaveField("Version", "v1.37.2"))))
		})
})

func conditionValue(r *report.Report, name string) string { return factValue(r.Conditions, name) }

func factValue(facts []report.Fact, name string) string {
	for _, c := range facts {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
