package suitekit

import (
	"context"
	"maps"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// KitBugs declares the specs of every bug of component declared with the
// kit (harness/kit), derived from its declaration: the last affected
// release REPRODUCES, the first fixed and every maintained release do
// NOT, and the first fixed release with the fix reverted (or its feature
// gate off) REPRODUCES again. Each suite calls it for its own component
// (`var _ = suitekit.KitBugs("runc")`); sysctls are the kernel parameters
// the host check compares besides the defaults (kubelet rewrites some).
// Select one bug with -ginkgo.label-filter='bug:CVE-2024-21626'.
func KitBugs(component string, sysctls ...string) bool {
	return Describe("kit bugs", func() {
		for _, b := range kit.BugsOf(component) {
			kitBugSpecs(b, sysctls)
		}
	})
}

func kitBugSpecs(b *kit.Bug, sysctls []string) {
	labels := []string{Node(b.Node())}
	if b.Slow {
		labels = append(labels, Slow)
	}
	Describe(b.ID+": "+b.Title, BugLabels(b.Report(), labels...), Ordered, ContinueOnFailure, func() {
		var baseline HostBaseline
		BeforeAll(func() {
			baseline = TakeBaseline(append(sysctls, b.Hooks.Sysctls...)...)
			DeferCleanup(baseline.CheckClean)
		})
		AfterEach(func() { baseline.CheckClean() })

		// A cold runc build takes a minute or two; a cold Kubernetes
		// build about an hour on two shared cores (58 min for 1.37.2).
		timeout := 15 * time.Minute
		// Another run on the host (a suite, a matrix, a 15-min chaos run
		// and its shrinking) holds the host lock for minutes: wait for it
		// rather than be INCONCLUSIVE. A cluster spec's timeout leaves
		// room to wait out a whole chaos run.
		lockWait := 10 * time.Minute
		if b.Component == versions.Kubernetes.Name {
			timeout, lockWait = 90*time.Minute, 40*time.Minute
		}
		for _, c := range kit.Cases(b) {
			decorations := []any{Label(caseLabel(c.Kind)), SpecTimeout(timeout)}
			if versions.IsSelector(c.Version) {
				// What ships changes with every release: each new one is a
				// cold build, so `make test` stays bounded and the nightly
				// and `make test-slow` follow it.
				decorations = append(decorations, Label(Slow))
			} else {
				decorations = append(decorations, ComponentSemVerConstraint(b.Component, c.Version))
			}
			It(c.Name+" is "+string(c.Want), append(decorations, func(ctx SpecContext) {
				for _, v := range releasesOf(ctx, b, c.Version) {
					o := experiment.Options{Scenario: b.Name(), Versions: map[string]string{b.Component: v}, Params: maps.Clone(c.Params), LockWait: lockWait}
					if b.Node() != "local" {
						o.Node = provision.Spec{Provider: b.Node()}
					}
					if c.Patch != "" {
						o.Patches = map[string][]string{b.Component: {RepoPath(c.Patch)}}
					}
					res := Run(ctx, o)
					ExpectVerdict(res, c.Want)
					if c.Want == report.Reproduced {
						Expect(res.Report.Findings).To(ContainElement(HaveField("Detector", b.FindingDetector())), "the finding the classification named")
					}
				}
			})...)
		}
	})
}

// caseLabel is the suites' label for what a derived case shows.
func caseLabel(k kit.CaseKind) string {
	switch k {
	case kit.AffectedCase:
		return Affected
	case kit.FixRevertCase, kit.GateOffCase:
		return FixRevert
	}
	return Fixed
}

// releasesOf is the releases of the bug's component a case runs: its
// version, or each release a selector (maintained) names today.
func releasesOf(ctx context.Context, b *kit.Bug, version string) []string {
	GinkgoHelper()
	sel, ok := versions.ParseSelector(version)
	if !ok {
		return []string{version}
	}
	s, err := scenario.Lookup(b.Name())
	Expect(err).NotTo(HaveOccurred())
	comp := scenario.Builder(s, b.Component).Target()
	listed, err := comp.Served(ctx)
	Expect(err).NotTo(HaveOccurred(), "listing %s releases for %s", b.Component, version)
	picked, err := sel.Pick(listed, comp.Maintenance, time.Now())
	Expect(err).NotTo(HaveOccurred())
	return picked
}
