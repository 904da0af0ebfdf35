package vm_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/runc3551"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// runc#3551 https://github.com/opencontainers/runc/issues/3551, a 1.1.3
// regression fixed in 1.1.4 by https://github.com/opencontainers/runc/pull/3554:
// with --systemd-cgroup, `runc exec -t` is denied /dev/pts after
// `systemctl daemon-reload`. The reload needs systemd as PID 1: a qemu node.
var _ = Describe("runc#3551 runc exec -t denied /dev/pts after systemctl daemon-reload",
	Label(suitekit.Slow, "vm"), suitekit.BugLabels(runc3551.Bug, suitekit.Node("qemu")), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline
		BeforeAll(func() {
			baseline = suitekit.TakeBaseline()
			DeferCleanup(baseline.CheckClean)
			DeferCleanup(baseline.CheckNoVMLeftovers)
		})
		AfterEach(func() {
			baseline.CheckClean()
			baseline.CheckNoVMLeftovers()
		})

		repro := func(ctx context.Context, version string, patches ...string) *experiment.Result {
			o := experiment.Options{Scenario: runc3551.Name, Versions: map[string]string{"runc": version}, Node: provision.Spec{Provider: "qemu"}}
			for _, p := range patches {
				o.Patches = map[string][]string{"runc": append(o.Patches["runc"], suitekit.Fixture(p))}
			}
			res := suitekit.Run(ctx, o)
			Expect(res.Report.Host.PID1).To(Equal("systemd"))
			return res
		}
		denied := func(res *experiment.Result) {
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Findings).To(ConsistOf(HaveField("Kind", runc3551.KindPtsDenied)))
			Expect(res.Report.Findings[0].Summary).To(ContainSubstring("open /dev/pts/0: operation not permitted"))
			Expect(res.Report.Findings[0].Reasons).To(ContainElement(ContainSubstring("no char-pts rule")))
		}

		It("is denied the pty after the reload on 1.1.3", Label(suitekit.Affected), ComponentSemVerConstraint("runc", "1.1.3"),
			SpecTimeout(15*time.Minute), func(ctx SpecContext) { denied(repro(ctx, "1.1.3")) })

		It("is denied again on 1.1.4 with runc#3554 reverted", Label(suitekit.FixRevert, suitekit.Affected), ComponentSemVerConstraint("runc", "1.1.4"),
			SpecTimeout(15*time.Minute), func(ctx SpecContext) {
				res := repro(ctx, "1.1.4", "patches/runc/revert-3554-v1.1.4.patch")
				denied(res)
				Expect(res.Report.Verdict.ExpectedWhy).To(ContainSubstring("runc#3554 taken out by a patch"))
			})

		DescribeTable("keeps the pty after the reload on fixed releases", Label(suitekit.Fixed),
			func(ctx SpecContext, version string) {
				res := repro(ctx, version)
				suitekit.ExpectVerdict(res, report.NotReproduced)
				Expect(res.Report.Verdict.Reason).To(ContainSubstring("has char-pts"))
			},
			Entry("1.1.4, the first fixed release", ComponentSemVerConstraint("runc", "1.1.4"), SpecTimeout(15*time.Minute), "1.1.4"),
			Entry("1.1.14", ComponentSemVerConstraint("runc", "1.1.14"), SpecTimeout(15*time.Minute), "1.1.14"),
		)
	})
