package containerd_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/containerdmetrics"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// containerd#6772: https://github.com/containerd/containerd/issues/6772
// (first reported as opencontainers/runc#3448). containerd 1.6.0-1.6.2
// deadlocks between task Create (Collector.Add) and a metrics scrape
// (Collect); fixed in 1.6.3 by https://github.com/containerd/containerd/pull/6801.
var _ = Describe("containerd#6772 / containerd#6801 task Create deadlocks with a metrics scrape; runc init waits forever on exec.fifo",
	suitekit.BugLabels(containerdmetrics.Bug, suitekit.Engine("containerd"), suitekit.Node("local")), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline

		BeforeAll(func() {
			baseline = suitekit.TakeBaseline("fs.pipe-user-pages-soft")
			DeferCleanup(baseline.CheckClean)
		})
		AfterEach(func() { baseline.CheckClean() })

		repro := func(ctx context.Context, version string, params map[string]string) *experiment.Result {
			return suitekit.Run(ctx, experiment.Options{Scenario: containerdmetrics.Name,
				Versions: map[string]string{"containerd": version}, Params: params})
		}

		It("deadlocks on 1.6.2 within the bound, with both lock stacks in the goroutine dump",
			Label(suitekit.Affected), ComponentSemVerConstraint("containerd", "1.6.2"), SpecTimeout(15*time.Minute),
			func(ctx SpecContext) {
				res := repro(ctx, "1.6.2", nil)
				suitekit.ExpectVerdict(res, report.Reproduced)
				f := res.Report.Findings[0]
				Expect(f.Kind).To(Equal(detect.KindExecFifoStall))
				stuck := f.Processes[0]
				Expect(stuck.Comm).To(Equal("runc:[2:INIT]"))
				Expect(stuck.Wchan).To(Or(ContainSubstring("wait_for_partner"), ContainSubstring("fifo")))
				Expect(stuck.FDs).To(ContainElement(HaveField("Target", HaveSuffix("/exec.fifo"))))
				Expect(evidenceTitles(res.Report)).To(ContainElements(
					ContainSubstring("waiting for the namespace lock (task Create)"),
					ContainSubstring("waiting for the collector lock (metrics scrape)")))
			})

		// containerd#6801 taken out of v1.6.3 (fixtures/patches/containerd)
		// brings the deadlock back: the fix is what makes the difference.
		It("deadlocks again on 1.6.3 with containerd#6801 reverted", Label(suitekit.FixRevert), ComponentSemVerConstraint("containerd", "1.6.3"),
			SpecTimeout(15*time.Minute), func(ctx SpecContext) {
				res := suitekit.Run(ctx, experiment.Options{Scenario: containerdmetrics.Name, Versions: map[string]string{"containerd": "1.6.3"},
					Patches: map[string][]string{"containerd": {suitekit.Fixture("patches/containerd/revert-6801-v1.6.3.patch")}}})
				suitekit.ExpectVerdict(res, report.Reproduced)
				Expect(res.Report.Verdict.ExpectedWhy).To(ContainSubstring("containerd#6801 taken out by a patch"))
				Expect(evidenceTitles(res.Report)).To(ContainElement(ContainSubstring("waiting for the collector lock (metrics scrape)")))
			})

		It("does not deadlock on 1.6.3 under the same load", Label(suitekit.Fixed), ComponentSemVerConstraint("containerd", "1.6.3"),
			SpecTimeout(15*time.Minute), func(ctx SpecContext) {
				res := repro(ctx, "1.6.3", map[string]string{"tasks": "150"})
				suitekit.ExpectVerdict(res, report.NotReproduced)
				Expect(res.Report.Verdict.Reason).To(HavePrefix("150 tasks created and started"))
			})
	})

// The report's reproduce.sh, interrupted at random points - at its start,
// making the rootfs, while containerd starts, while tasks are created,
// while creates hang, during its cleanup - by Ctrl-C once, twice 20-40 ms
// apart, or on `timeout`: every time no containerd, shim or runc init of
// it is left, and its network namespace, cgroups, mounts and files are
// gone (issue 23).
var _ = Describe("containerd#6772's reproduce.sh, interrupted at random points",
	suitekit.BugLabels(containerdmetrics.Bug, suitekit.Engine("containerd"), suitekit.Node("local"), "reproducer", suitekit.Slow), func() {
		It("leaves the host and its directory as they were, 20 times of 20", SpecTimeout(60*time.Minute), func(ctx SpecContext) {
			baseline := suitekit.TakeBaseline("fs.pipe-user-pages-soft")
			DeferCleanup(baseline.ExpectClean)
			// Other runs may hold the host: wait for it as the trials below do.
			res := suitekit.Run(ctx, experiment.Options{Scenario: containerdmetrics.Name, Versions: map[string]string{"containerd": "1.6.2"}, LockWait: 15 * time.Minute})
			suitekit.ExpectVerdict(res, report.Reproduced)
			script, err := os.ReadFile(res.Paths.Script)
			Expect(err).NotTo(HaveOccurred())
			// Private copies, as a maintainer's own would be: their paths mark the script's processes.
			bin := GinkgoT().TempDir()
			for _, c := range res.Report.Components {
				switch c.Component {
				case "containerd":
					for _, name := range []string{"containerd", "containerd-shim-runc-v2", "ctr"} {
						copyFile(filepath.Join(c.Path, name), filepath.Join(bin, name))
					}
				case "runc":
					copyFile(c.Path, filepath.Join(bin, "runc"))
				}
			}
			exists := func(rel string) func(string, string) bool {
				return func(dir, _ string) bool { _, err := os.Stat(filepath.Join(dir, rel)); return err == nil }
			}
			decided := func(_, out string) bool {
				for _, s := range []string{"HUNG:", "STARTED:", "not this bug", "creates succeeded", "did not start"} {
					if strings.Contains(out, s) {
						return true
					}
				}
				return false
			}
			suitekit.RunInterrupts(ctx, suitekit.InterruptTest{
				Script: string(script), Env: []string{"CONTAINERD_BIN=" + bin, "RUNC=" + filepath.Join(bin, "runc")}, Trials: 20,
				Bound: 3 * time.Minute, Sysctl: "fs.pipe-user-pages-soft", Marks: []string{bin},
				CgroupPrefix: "repro6772-", NetnsPrefix: "ctrd6772-",
				Points: []suitekit.InterruptPoint{
					{Name: "at its start", Reached: func(string, string) bool { return true }, Within: 20 * time.Millisecond},
					{Name: "making the rootfs", Reached: exists("rootfs"), Within: 20 * time.Millisecond},
					{Name: "while containerd starts", Reached: exists("config.toml"), Within: 300 * time.Millisecond},
					{Name: "while tasks are created", Reached: exists("exits"), Within: 3 * time.Second},
					{Name: "while creates hang", Reached: exists("exits"), After: 6 * time.Second, Within: 18 * time.Second},
					{Name: "during its cleanup", Reached: decided, Within: 400 * time.Millisecond},
				},
			})
		})
	})

func copyFile(from, to string) {
	GinkgoHelper()
	data, err := os.ReadFile(from)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(to, data, 0o755)).To(Succeed())
}

func evidenceTitles(r *report.Report) []string {
	var titles []string
	for _, e := range r.Evidence {
		titles = append(titles, strings.TrimSpace(e.Title))
	}
	return titles
}
