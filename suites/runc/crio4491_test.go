package runc_test

import (
	"context"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/runcerrnoret"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// cri-o#4491 https://github.com/cri-o/cri-o/issues/4491: pods stuck in
// ContainerCreating because runc before v1.0.0-rc91 ignored seccomp
// errnoRet, so a profile's clone3 -> ENOSYS rule equalled the default action
// and libseccomp refused it. Fixed by
// https://github.com/opencontainers/runc/pull/2424. Releases before rc91
// cannot be built from the module proxy: the affected side is rc91 with
// runc#2424 reverted.
var _ = Describe("cri-o#4491 / runc#2424 runc ignores seccomp errnoRet and cannot load a profile with a clone3 -> ENOSYS rule",
	suitekit.BugLabels(runcerrnoret.Bug, suitekit.Node("local")), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline
		BeforeAll(func() {
			baseline = suitekit.TakeBaseline()
			DeferCleanup(baseline.CheckClean)
		})
		AfterEach(func() { baseline.CheckClean() })

		const revert = "patches/runc/revert-2424-v1.0.0-rc91.patch"
		repro := func(ctx context.Context, version string, patched bool, params map[string]string) *experiment.Result {
			o := experiment.Options{Scenario: runcerrnoret.Name, Versions: map[string]string{"runc": version}, Params: params}
			if patched {
				o.Patches = map[string][]string{"runc": {suitekit.Fixture(revert)}}
			}
			return suitekit.Run(ctx, o)
		}

		It("comes back on rc91 with runc#2424 reverted: the control starts, the bundle with the clone3 rule fails adding it",
			Label(suitekit.FixRevert, suitekit.Affected), ComponentSemVerConstraint("runc", "1.0.0-rc91"), SpecTimeout(10*time.Minute),
			func(ctx SpecContext) {
				res := repro(ctx, "v1.0.0-rc91", true, nil)
				suitekit.ExpectVerdict(res, report.Reproduced)
				Expect(res.Report.Findings).To(ConsistOf(HaveField("Kind", runcerrnoret.KindErrnoRetIgnored)))
				Expect(res.Report.Findings[0].Summary).To(ContainSubstring("clone3 rule's errnoRet 38"))
				Expect(res.Report.Attempts).To(HaveLen(2))
				Expect(res.Report.Attempts[0].InitOutput).To(ContainSubstring(`"clone3":1`), "the control ran; clone3 fell to the default action (EPERM)")
				Expect(res.Report.Verdict.ExpectedWhy).To(ContainSubstring("runc#2424 taken out by a patch"))
				Expect(res.Report.Components[0].Patches).To(ConsistOf(HaveField("RevertsFix", "runc#2424")))
				Expect(filepath.Join(res.Paths.Dir, "patches", "runc", filepath.Base(revert))).To(BeAnExistingFile())
				Expect(res.Report.Reproduce).To(ContainSubstring("revert-2424-v1.0.0-rc91.patch"), "the reproducer builds the same patched runc")
			})

		DescribeTable("honours errnoRet on the releases as they are: clone3 returns ENOSYS inside the container",
			Label(suitekit.Fixed),
			func(ctx SpecContext, version string) {
				res := repro(ctx, version, false, nil)
				suitekit.ExpectVerdict(res, report.NotReproduced)
				Expect(res.Report.Findings).To(BeEmpty())
				Expect(res.Report.Attempts[1].InitOutput).To(ContainSubstring(`"clone3":38`))
			},
			Entry("rc91, the first release with the fix", ComponentSemVerConstraint("runc", "1.0.0-rc91"), SpecTimeout(10*time.Minute), "v1.0.0-rc91"),
			Entry("1.1.14", ComponentSemVerConstraint("runc", "1.1.14"), SpecTimeout(10*time.Minute), "1.1.14"),
		)

		// The seed's stack: a container manager (podman here, CRI-O there)
		// with conmon and containers/common's default profile.
		Context("through podman and conmon", Label(suitekit.Engine("podman")), func() {
			It("fails podman run on rc91 with runc#2424 reverted", ComponentSemVerConstraint("runc", "1.0.0-rc91"), SpecTimeout(10*time.Minute),
				func(ctx SpecContext) {
					res := repro(ctx, "v1.0.0-rc91", true, map[string]string{"engine": "podman"})
					suitekit.ExpectVerdict(res, report.Reproduced)
					Expect(res.Report.Findings[0].Summary).To(ContainSubstring("socket rule's errnoRet 22"))
					Expect(res.Report.Stack).To(ContainElements(HaveField("Name", "podman"), HaveField("Name", "conmon")))
					Expect(conditionValue(res.Report, "left out of both")).To(ContainSubstring("cri-o#5117"))
				})
			DescribeTable("runs podman's containers on the releases as they are",
				func(ctx SpecContext, version string) {
					res := repro(ctx, version, false, map[string]string{"engine": "podman"})
					suitekit.ExpectVerdict(res, report.NotReproduced)
					Expect(res.Report.Verdict.Reason).To(ContainSubstring("socket -> SCMP_ACT_ERRNO errnoRet 22"))
				},
				Entry("rc91", ComponentSemVerConstraint("runc", "1.0.0-rc91"), SpecTimeout(10*time.Minute), "v1.0.0-rc91"),
				Entry("1.1.14", ComponentSemVerConstraint("runc", "1.1.14"), SpecTimeout(10*time.Minute), "1.1.14"),
			)
		})
	})
