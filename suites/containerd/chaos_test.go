package containerd_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/explore"
	"github.com/relapse-dev/relapse/harness/scenarios/containerdmetrics"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The chaos explorer, told nothing about containerd#6772, finds it on
// 1.6.2: its schedules compose scrapes and create churn, a create outlives
// the bound the run's own latencies set, and containerd's goroutine dump
// is claimed by the scenario's detector (scenario.Claimer), not by its
// trigger, which never runs. Slow: a budgeted exploration plus its shrink.
var _ = Describe("relapse chaos rediscovers containerd#6772 blind",
	suitekit.BugLabels(containerdmetrics.Bug, suitekit.Engine("containerd"), suitekit.Node("local"), suitekit.Trigger("chaos"), suitekit.Slow), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline

		BeforeAll(func() {
			baseline = suitekit.TakeBaseline("fs.pipe-user-pages-soft")
			DeferCleanup(baseline.CheckClean)
		})

		It("names containerd#6772 on 1.6.2 within a 15 minute budget", Label(suitekit.Affected), ComponentSemVerConstraint("containerd", "1.6.2"),
			SpecTimeout(60*time.Minute), func(ctx SpecContext) {
				out, _, err := explore.Run(ctx, explore.Options{Containerd: "1.6.2", Runc: "1.1.1", Budget: 15 * time.Minute, Seed: 1,
					Trial: -1, Replays: 2, Need: 1, ShrinkRuns: 6, ReportsDir: suitekit.ReportsDir(),
					LockWait: lockWait, Log: GinkgoWriter})
				Expect(err).NotTo(HaveOccurred())
				Expect(out.Finding).NotTo(BeNil(), explore.Summary(out))
				f := out.Finding
				Expect(f.Claims).To(ContainElement(HaveField("Bug", "containerd#6772")))
				Expect(f.TimeToFind).To(BeNumerically("<", 15*time.Minute))
				Expect(f.Violation.Invariant).To(Equal(explore.InvCreate))
				Expect(f.Shrunk.Tally.K).To(BeNumerically(">=", 1))
				Expect(len(f.Shrunk.Schedule.Steps)).To(BeNumerically("<=", len(f.Schedule.Steps)))
			})
	})
