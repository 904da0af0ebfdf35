package containerd_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/containerdmetrics"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// containerd2 is a 2.x release, pinned so the specs mean the same every
// night (CONTAINERD=latest names whatever is newest; these name one):
// module github.com/containerd/containerd/v2, config version 4, the runc
// v2 shim, driven by relapse's 1.7 Go client.
const containerd2 = "2.4.2"

// lockWait: other relapse runs on the host (a matrix, another suite) hold
// its lock for minutes; a spec waits for it rather than failing. The
// specs' timeouts leave room for it and a cold containerd build (~7 min).
const lockWait = 10 * time.Minute

// condition matches the report condition name whose value contains want.
func condition(name, want string) types.GomegaMatcher {
	return ContainElement(And(HaveField("Name", name), HaveField("Value", ContainSubstring(want))))
}

// expectContainerd2 checks what the report says about the daemon: its own
// config layout read without migration or unknown keys, and the task run
// by the runc v2 shim of the same build.
func expectContainerd2(r *report.Report) {
	GinkgoHelper()
	Expect(r.Conditions).To(condition("containerd config", "config version 4"))
	Expect(r.Conditions).To(condition("containerd config", "read without a migration or unknown-key warning"))
	Expect(r.Conditions).To(condition("containerd runtime", "runtime io.containerd.runc.v2; shim "))
	Expect(r.Conditions).NotTo(condition("containerd runtime", "is NOT this containerd's"))
}

// The bug is runc's: a containerd 2.x drives the runc under test as 1.x
// did, so rc93 hangs under it and a fixed runc does not.
//
// The 2.x specs are slow: their containerd build takes ~7 min cold on a
// loaded 2-core machine, which put `make test` over 30 minutes cold;
// `make test-slow` and the nightly's containerd cells run today's 2.x.
var _ = Describe("containerd#5261 / runc#2871 through containerd 2.x: runc init hangs under the runc v2 shim",
	suitekit.BugLabels(runcpipehang.Bug, suitekit.Engine("containerd"), suitekit.Node("local"), suitekit.Slow), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline

		BeforeAll(func() {
			baseline = suitekit.TakeBaseline(runcpipehang.SoftLimitKey)
			DeferCleanup(baseline.CheckClean)
		})
		AfterEach(func() { baseline.CheckClean() })

		repro := func(ctx context.Context, runc string) *experiment.Result {
			return suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name, LockWait: lockWait,
				Versions: map[string]string{"runc": runc, "containerd": containerd2}, Params: map[string]string{"engine": "containerd"}})
		}

		It("hangs the task start on rc93 under containerd "+containerd2, Label(suitekit.Affected), ComponentSemVerConstraint("runc", "1.0.0-rc93"),
			SpecTimeout(25*time.Minute), func(ctx SpecContext) {
				res := repro(ctx, "rc93")
				suitekit.ExpectVerdict(res, report.Reproduced)
				Expect(res.Report.Findings[0].Processes).To(ContainElement(HaveField("Comm", "containerd-shim")))
				Expect(res.Report.Stack).To(ContainElement(HaveField("Value", HavePrefix("v"+containerd2))))
				expectContainerd2(res.Report)
			})

		It("starts the container on runc 1.5.3 under containerd "+containerd2, Label(suitekit.Fixed), ComponentSemVerConstraint("runc", "1.5.3"),
			SpecTimeout(25*time.Minute), func(ctx SpecContext) {
				res := repro(ctx, "1.5.3")
				suitekit.ExpectVerdict(res, report.NotReproduced)
				expectContainerd2(res.Report)
			})
	})

// containerd#6772 stays fixed in 2.x, with the config in 2.x's own layout.
var _ = Describe("containerd#6772 / containerd#6801 on containerd 2.x",
	suitekit.BugLabels(containerdmetrics.Bug, suitekit.Engine("containerd"), suitekit.Node("local"), suitekit.Slow), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline

		BeforeAll(func() {
			baseline = suitekit.TakeBaseline("fs.pipe-user-pages-soft")
			DeferCleanup(baseline.CheckClean)
		})
		AfterEach(func() { baseline.CheckClean() })

		It("does not deadlock on "+containerd2+" under the load that deadlocks 1.6.2", Label(suitekit.Fixed), ComponentSemVerConstraint("containerd", containerd2),
			SpecTimeout(25*time.Minute), func(ctx SpecContext) {
				res := suitekit.Run(ctx, experiment.Options{Scenario: containerdmetrics.Name, LockWait: lockWait,
					Versions: map[string]string{"containerd": containerd2}, Params: map[string]string{"tasks": "150"}})
				suitekit.ExpectVerdict(res, report.NotReproduced)
				Expect(res.Report.Verdict.Reason).To(HavePrefix("150 tasks created and started"))
				expectContainerd2(res.Report)
			})
	})
