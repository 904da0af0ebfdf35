package runc_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/cve202130465"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// CVE-2021-30465 https://github.com/opencontainers/runc/security/advisories/GHSA-c3xm-pvg7-gh7r
// (public, fixed in v1.0.0-rc95 by commit 0ca91f44): a bind mount's
// destination exchanged for a symlink while runc mounts is followed out
// of the container's root. A race: each repetition is 100 victim starts
// under the exchange.
var _ = Describe("CVE-2021-30465 runc follows a mount destination swapped for a symlink out of the container's root",
	suitekit.BugLabels(cve202130465.Bug, suitekit.Node("local")), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline
		BeforeAll(func() {
			baseline = suitekit.TakeBaseline()
			DeferCleanup(baseline.CheckClean)
		})
		AfterEach(func() { baseline.CheckClean() })

		repro := func(ctx context.Context, version string, patches ...string) *experiment.Result {
			o := experiment.Options{Scenario: cve202130465.Name, Versions: map[string]string{"runc": version}}
			for _, p := range patches {
				o.Patches = map[string][]string{"runc": append(o.Patches["runc"], suitekit.Fixture(p))}
			}
			return suitekit.Run(ctx, o)
		}
		escaped := func(res *experiment.Result) {
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Findings).ToNot(BeEmpty())
			Expect(res.Report.Findings).To(HaveEach(HaveField("Kind", cve202130465.KindMountEscape)))
			Expect(res.Report.Findings[0].Summary).To(ContainSubstring("read the token relapse planted"))
		}

		It("escapes on rc94, the last affected release", Label(suitekit.Affected), ComponentSemVerConstraint("runc", "1.0.0-rc94"),
			SpecTimeout(15*time.Minute), func(ctx SpecContext) { escaped(repro(ctx, "rc94")) })

		It("escapes again on rc95 with 0ca91f44 reverted", Label(suitekit.FixRevert, suitekit.Affected), ComponentSemVerConstraint("runc", "1.0.0-rc95"),
			SpecTimeout(15*time.Minute), func(ctx SpecContext) {
				res := repro(ctx, "rc95", "patches/runc/revert-0ca91f44-v1.0.0-rc95.patch")
				escaped(res)
				Expect(res.Report.Verdict.ExpectedWhy).To(ContainSubstring("0ca91f44f166 taken out by a patch"))
			})

		DescribeTable("does not escape on fixed releases, with the exchange running throughout", Label(suitekit.Fixed),
			func(ctx SpecContext, version string) {
				res := repro(ctx, version)
				suitekit.ExpectVerdict(res, report.NotReproduced)
				Expect(res.Report.Findings).To(BeEmpty())
				Expect(conditionValue(res.Report, "attacker")).To(MatchRegexp(`exchanged mnt and mnt-tmp [1-9][0-9]* times`))
			},
			Entry("rc95, the first fixed release", ComponentSemVerConstraint("runc", "1.0.0-rc95"), SpecTimeout(15*time.Minute), "rc95"),
			Entry("1.1.14", ComponentSemVerConstraint("runc", "1.1.14"), SpecTimeout(15*time.Minute), "1.1.14"),
		)
	})
