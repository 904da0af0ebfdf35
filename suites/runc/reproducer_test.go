package runc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The report's reproduce.sh is for a maintainer without relapse: copied
// alone into an empty directory and given only the runc to test, it must
// hang rc93 and start rc94, decide from /proc, and leave the directory and
// the host as it found them.
var _ = Describe("containerd#5261's reproduce.sh, alone in an empty directory",
	suitekit.BugLabels(runcpipehang.Bug, suitekit.Node("local"), "reproducer"), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline

		BeforeAll(func() {
			baseline = suitekit.TakeBaseline(runcpipehang.SoftLimitKey)
			DeferCleanup(baseline.CheckClean)
		})
		AfterEach(func() { baseline.CheckClean() })

		DescribeTable("decides as relapse did",
			func(ctx SpecContext, version string, verdict report.Result, exit int, says string) {
				res := suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name, Versions: map[string]string{"runc": version}})
				suitekit.ExpectVerdict(res, verdict)
				Expect(res.Paths.Script).To(BeAnExistingFile())
				Expect(res.Paths.Bundle).To(BeAnExistingFile())
				Expect(res.Paths.Markdown).To(BeAnExistingFile())

				dir := GinkgoT().TempDir()
				script, err := os.ReadFile(res.Paths.Script)
				Expect(err).NotTo(HaveOccurred())
				Expect(os.WriteFile(filepath.Join(dir, "reproduce.sh"), script, 0o755)).To(Succeed())
				// The runc relapse built, copied in as a maintainer's own would be.
				runc := filepath.Join(GinkgoT().TempDir(), "runc")
				data, err := os.ReadFile(res.Report.Components[0].Path)
				Expect(err).NotTo(HaveOccurred())
				Expect(os.WriteFile(runc, data, 0o755)).To(Succeed())

				sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(sctx, "sh", "reproduce.sh")
				cmd.Dir = dir
				cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "RUNC=" + runc}
				out, err := cmd.CombinedOutput()
				GinkgoWriter.Printf("reproduce.sh with runc %s:\n%s\n", version, out)
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else {
					Expect(err).NotTo(HaveOccurred())
				}
				Expect(code).To(Equal(exit), "exit status of reproduce.sh:\n%s", out)
				Expect(string(out)).To(ContainSubstring(says))

				left, err := os.ReadDir(dir)
				Expect(err).NotTo(HaveOccurred())
				var names []string
				for _, e := range left {
					names = append(names, e.Name())
				}
				Expect(names).To(ConsistOf("reproduce.sh"), "the script removes what it made: %s", strings.Join(names, " "))
				procs, err := evidence.LocalProc.Processes()
				Expect(err).NotTo(HaveOccurred())
				for _, p := range procs {
					Expect(p.Cmdline).NotTo(ContainElement(runc), "pid %d (%s) of the script's runc outlives it", p.PID, p.CommandLine())
				}
			},
			Entry("rc93 hangs", Label(suitekit.Affected), "rc93", report.Reproduced, 1, "HUNG: runc init (pid"),
			Entry("rc94 starts", Label(suitekit.Fixed), "rc94", report.NotReproduced, 0, "STARTED: container started"),
		)
	})

// The same script interrupted at random points - at its start, making the
// bundle, during and just after runc create, while runc init is stuck,
// during its cleanup - by Ctrl-C once, twice 20-40 ms apart, or on
// `timeout`: every time the pipe limit, the processes, mounts and cgroups
// and the directory are as before (issue 23: an interrupted script left
// fs.pipe-user-pages-soft at 1 and a runc init stuck). ~70 s here (the
// run, then 20 trials of at most ~12 s), so it is not labelled slow.
var _ = Describe("containerd#5261's reproduce.sh, interrupted at random points",
	suitekit.BugLabels(runcpipehang.Bug, suitekit.Node("local"), "reproducer"), func() {
		It("leaves the host and its directory as they were, 20 times of 20", SpecTimeout(30*time.Minute), func(ctx SpecContext) {
			baseline := suitekit.TakeBaseline(runcpipehang.SoftLimitKey)
			DeferCleanup(baseline.ExpectClean)
			// Other runs may hold the host: wait for it as the trials below do.
			res := suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name, Versions: map[string]string{"runc": "rc93"}, LockWait: 15 * time.Minute})
			suitekit.ExpectVerdict(res, report.Reproduced)
			script, err := os.ReadFile(res.Paths.Script)
			Expect(err).NotTo(HaveOccurred())
			runc := filepath.Join(GinkgoT().TempDir(), "runc")
			data, err := os.ReadFile(res.Report.Components[0].Path)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(runc, data, 0o755)).To(Succeed())

			exists := func(rel string) func(string, string) bool {
				return func(dir, _ string) bool { m, _ := filepath.Glob(filepath.Join(dir, rel)); return len(m) > 0 }
			}
			decided := func(_, out string) bool { return strings.Contains(out, "HUNG:") || strings.Contains(out, "STARTED:") }
			suitekit.RunInterrupts(ctx, suitekit.InterruptTest{
				Script: string(script), Env: []string{"RUNC=" + runc}, Trials: 20, Bound: time.Minute,
				Sysctl: runcpipehang.SoftLimitKey, Marks: []string{runc}, CgroupPrefix: "c5261-",
				Points: []suitekit.InterruptPoint{
					{Name: "at its start", Reached: func(string, string) bool { return true }, Within: 20 * time.Millisecond},
					{Name: "making the bundle", Reached: exists("bundle"), Within: 30 * time.Millisecond},
					{Name: "during runc create", Reached: exists("state"), Within: 15 * time.Millisecond},
					{Name: "just after runc create", Reached: exists("state/*/state.json"), Within: 50 * time.Millisecond},
					{Name: "while runc init is stuck", Reached: exists("state/*/state.json"), After: time.Second, Within: 8 * time.Second},
					{Name: "during its cleanup", Reached: decided, Within: 150 * time.Millisecond},
				},
			})
		})
	})
