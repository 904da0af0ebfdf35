package runc_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The specs of every bug declared with the kit (harness/kit), derived from
// its declaration: the last affected release REPRODUCES, the first fixed
// and every maintained release do NOT, and the first fixed release with
// the fix reverted REPRODUCES again. Select one bug with
// -ginkgo.label-filter='bug:CVE-2024-21626'.
var _ = Describe("kit bugs", func() {
	for _, b := range kit.Bugs() {
		labels := []string{suitekit.Node(b.Node())}
		if b.Slow {
			labels = append(labels, suitekit.Slow)
		}
		Describe(b.ID+": "+b.Title, suitekit.BugLabels(b.Report(), labels...), Ordered, ContinueOnFailure, func() {
			var baseline suitekit.HostBaseline
			BeforeAll(func() {
				baseline = suitekit.TakeBaseline()
				DeferCleanup(baseline.CheckClean)
			})
			AfterEach(func() { baseline.CheckClean() })

			for _, c := range kit.Cases(b) {
				decorations := []any{Label(caseLabel(c.Kind)), SpecTimeout(15 * time.Minute)}
				if versions.IsSelector(c.Version) {
					// What ships changes with every release: each new one is a
					// cold build, so `make test` stays bounded and the nightly
					// and `make test-slow` follow it.
					decorations = append(decorations, Label(suitekit.Slow))
				}
				if !versions.IsSelector(c.Version) {
					decorations = append(decorations, ComponentSemVerConstraint(b.Component, c.Version))
				}
				It(c.Name+" is "+string(c.Want), append(decorations, func(ctx SpecContext) {
					for _, v := range releasesOf(ctx, c.Version) {
						// Another run on this host (a nightly cell, a repro) is waited out a while, as the other
						// suites' specs do; well inside the spec's timeout, so a longer one fails naming its holder.
						o := experiment.Options{Scenario: b.Name(), Versions: map[string]string{b.Component: v}, LockWait: 5 * time.Minute}
						if b.Node() != "local" {
							o.Node = provision.Spec{Provider: b.Node()}
						}
						if c.Patch != "" {
							o.Patches = map[string][]string{b.Component: {suitekit.RepoPath(c.Patch)}}
						}
						res := suitekit.Run(ctx, o)
						suitekit.ExpectVerdict(res, c.Want)
						if c.Want == report.Reproduced {
							Expect(res.Report.Findings).To(ContainElement(HaveField("Detector", b.Name())), "the finding the classification named")
						}
					}
				})...)
			}
		})
	}
})

// caseLabel is the suites' label for what a derived case shows.
func caseLabel(k kit.CaseKind) string {
	switch k {
	case kit.AffectedCase:
		return suitekit.Affected
	case kit.FixRevertCase:
		return suitekit.FixRevert
	}
	return suitekit.Fixed
}

// releasesOf is the runc releases a case runs: its version, or each
// release a selector (maintained) names today.
func releasesOf(ctx context.Context, version string) []string {
	GinkgoHelper()
	sel, ok := versions.ParseSelector(version)
	if !ok {
		return []string{version}
	}
	comp := versions.RuncRecipe.Target()
	listed, err := comp.Served(ctx)
	Expect(err).NotTo(HaveOccurred(), "listing runc releases for %s", version)
	picked, err := sel.Pick(listed, comp.Maintenance, time.Now())
	Expect(err).NotTo(HaveOccurred())
	return picked
}
