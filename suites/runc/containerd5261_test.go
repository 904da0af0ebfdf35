package runc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// containerd#5261 https://github.com/containerd/containerd/issues/5261:
// runc v1.0.0-rc93 hangs in `runc init` writing a seccomp filter larger than
// the pipe the kernel gives it once fs.pipe-user-pages-soft is exceeded
// (8192 bytes on this kernel). Fixed in rc94 by
// https://github.com/opencontainers/runc/pull/2871.
var _ = Describe("containerd#5261 / runc#2871 runc init hangs writing its seccomp filter into a shrunk pipe",
	suitekit.BugLabels(runcpipehang.Bug, suitekit.Node("local")), Ordered, ContinueOnFailure, func() {
		var baseline suitekit.HostBaseline

		BeforeAll(func() {
			baseline = suitekit.TakeBaseline(runcpipehang.SoftLimitKey)
			DeferCleanup(baseline.CheckClean)
		})
		AfterEach(func() { baseline.CheckClean() })

		repro := func(ctx context.Context, version string, params map[string]string) *experiment.Result {
			return suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name,
				Versions: map[string]string{"runc": version}, Params: params})
		}

		// The kit's specs (kit_test.go) give the verdicts on rc93, rc94,
		// the maintained releases and rc94 with runc#2871 reverted; these
		// check what the verdicts rest on, and the engines and releases
		// the declaration does not derive.
		It("shows on rc93 runc init blocked writing the whole filter into an 8192-byte pipe it also reads",
			Label(suitekit.Affected), ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(10*time.Minute),
			func(ctx SpecContext) {
				res := repro(ctx, "rc93", nil)
				suitekit.ExpectVerdict(res, report.Reproduced)
				Expect(res.Report.Findings).To(HaveLen(1))
				f := res.Report.Findings[0]
				Expect(f.Kind).To(Equal(pipewrite.Kind))
				stuck := f.Processes[0]
				Expect(stuck.Comm).To(Equal("runc:[2:INIT]"))
				Expect(stuck.NoNewPrivs).To(BeTrue())
				Expect(stuck.HasCap("CAP_SYS_ADMIN")).To(BeFalse())
				Expect(stuck.Syscall.Name).To(Equal("write"))
				fd, ok := stuck.FD(int(stuck.Syscall.Args[0]))
				Expect(ok).To(BeTrue())
				Expect(fd.PipeSize).To(Equal(8192))
				Expect(fd.PipeQueued).To(Equal(8192))
				// The write is the whole compiled filter, as relapse measured it beforehand.
				Expect(int(stuck.Syscall.Args[2])).To(BeNumerically(">", 8192))
				Expect(conditionValue(res.Report, "compiled seccomp filter")).To(HavePrefix(strconv.Itoa(int(stuck.Syscall.Args[2])) + " bytes"))
				// Decided from evidence, not by the attempt's deadline (the
				// create-timeout): the attempt ended hung, on a decision taken
				// over several samples while the trigger was in force. Ordering
				// and counts, no wall-clock bound: a loaded machine only
				// stretches the same sequence.
				Expect(res.Report.Attempts).To(ContainElement(HaveField("Outcome", HavePrefix("hung in runc "))))
				Expect(f.Samples).To(BeNumerically(">", 1), "more than one sample agreed")
				Expect(f.OnsetAt).NotTo(BeZero())
				Expect(f.Latency()).To(BeNumerically(">=", 0), "the onset bound precedes the decision")
				Expect(res.Report.Changes).To(And(HaveEach(HaveField("Restored", BeTrue())), ContainElement(HaveField("Kind", "sysctl"))))
				for _, c := range res.Report.Changes {
					if c.Kind == "sysctl" {
						Expect(f.At).To(And(BeTemporally(">", c.AppliedAt), BeTemporally("<", c.RestoredAt)), "decided while %s was lowered", c.Target)
					}
				}
			})

		DescribeTable("is fixed after rc93: the same filter loads and the container runs while its own pipes hold 8192 bytes",
			Label(suitekit.Fixed),
			func(ctx SpecContext, version string) {
				res := repro(ctx, version, map[string]string{"attempts": "2"})
				suitekit.ExpectVerdict(res, report.NotReproduced)
				Expect(res.Report.Findings).To(BeEmpty())
				for _, a := range res.Report.Attempts[1:] {
					Expect(a.InitOutput).To(ContainSubstring(`"pipe_size":8192`), "the trigger was in force in attempt %d", a.N)
				}
			},
			Entry("1.1.14, the last 1.1", ComponentSemVerConstraint("runc", "1.1.14"), SpecTimeout(10*time.Minute), "1.1.14"),
		)

		// The fix, and only the fix: runc#2871 taken out of the last 1.1
		// (fixtures/patches/runc; the kit's fix-revert spec takes it out of
		// rc94) brings the hang back, so the detector fires on it and on
		// nothing else.
		DescribeTable("comes back when runc#2871 is reverted from a fixed release",
			Label(suitekit.FixRevert),
			func(ctx SpecContext, version, patch string) {
				res := suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name, Versions: map[string]string{"runc": version},
					Patches: map[string][]string{"runc": {suitekit.Fixture(patch)}}})
				suitekit.ExpectVerdict(res, report.Reproduced)
				Expect(res.Report.Verdict.Build).To(ContainSubstring(filepath.Base(patch)))
				Expect(res.Report.Verdict.ExpectedWhy).To(ContainSubstring("runc#2871 taken out by a patch"))
				Expect(res.Report.Findings[0].Kind).To(Equal(pipewrite.Kind))
				Expect(res.Report.Components[0].Patches).To(ConsistOf(HaveField("RevertsFix", "runc#2871")))
				Expect(filepath.Join(res.Paths.Dir, "patches", "runc", filepath.Base(patch))).To(BeAnExistingFile(), "the diff travels with the report")
				Expect(res.Report.Components[0].BuildCommand).To(ContainSubstring("patch -p1 --forward --batch < \"$out/" + filepath.Base(patch) + "\""))
			},
			Entry("1.1.14, the last 1.1", ComponentSemVerConstraint("runc", "1.1.14"), SpecTimeout(10*time.Minute),
				"v1.1.14", "patches/runc/revert-2871-v1.1.14.patch"),
		)

		// The seed's own recipe (containerd#5261): docker run -d --security-opt
		// no-new-privileges in a loop, through dockerd -> containerd -> shim -> runc.
		Context("through dockerd", Label(suitekit.Engine("docker")), func() {
			It("hangs docker start on rc93 with runc init stuck under the shim",
				ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(5*time.Minute), func(ctx SpecContext) {
					res := repro(ctx, "rc93", map[string]string{"engine": "docker"})
					suitekit.ExpectVerdict(res, report.Reproduced)
					f := res.Report.Findings[0]
					Expect(f.Processes[0].Comm).To(Equal("runc:[2:INIT]"))
					Expect(f.Processes).To(ContainElement(HaveField("Comm", "containerd-shim")), "the shim is the stuck init's parent")
					Expect(res.Report.Stack).To(ContainElements(HaveField("Name", "dockerd"), HaveField("Name", "containerd (managed by dockerd)")),
						"the report names the engine stack that ran runc")
					Expect(conditionValue(res.Report, "docker inspect (stuck container) while runc init is stuck")).To(ContainSubstring("failed after"),
						"inspecting the stuck container blocks, as on the seed's node")
				})
			It("runs every container on rc94", ComponentSemVerConstraint("runc", "1.0.0-rc94"), SpecTimeout(5*time.Minute), func(ctx SpecContext) {
				res := repro(ctx, "rc94", map[string]string{"engine": "docker", "attempts": "5"})
				suitekit.ExpectVerdict(res, report.NotReproduced)
				Expect(conditionValue(res.Report, "churn")).To(HavePrefix("5 started, 0 failed, 0 stuck"))
			})
		})

		// The kubelet path without dockershim: task create/start through containerd.
		Context("through containerd", Label(suitekit.Engine("containerd")), func() {
			It("hangs the task start on rc93 and leaves containerd's other calls answering",
				ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(5*time.Minute), func(ctx SpecContext) {
					res := repro(ctx, "rc93", map[string]string{"engine": "containerd"})
					suitekit.ExpectVerdict(res, report.Reproduced)
					Expect(res.Report.Findings[0].Processes).To(ContainElement(HaveField("Comm", "containerd-shim")))
					Expect(conditionValue(res.Report, "containerd task list while runc init is stuck")).To(HavePrefix("answered"))
				})
			It("starts every container on 1.1.14", ComponentSemVerConstraint("runc", "1.1.14"), SpecTimeout(5*time.Minute), func(ctx SpecContext) {
				res := repro(ctx, "1.1.14", map[string]string{"engine": "containerd", "attempts": "5"})
				suitekit.ExpectVerdict(res, report.NotReproduced)
			})
		})

		It("is INCONCLUSIVE on rc93 with Docker's default profile, which fits the pipe on this libseccomp",
			Label(suitekit.TriggerCheck), ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(5*time.Minute),
			func(ctx SpecContext) {
				res := repro(ctx, "rc93", map[string]string{"profile": fixture.ProfileDockerDefault, "attempts": "1"})
				suitekit.ExpectVerdict(res, report.Inconclusive)
				Expect(res.Report.Verdict.Reason).To(ContainSubstring("fits the 8192-byte pipe"))
				Expect(res.Report.Findings).To(BeEmpty(), "a filter that fits must not be classified as the hang")
			})

		It("rejects an unknown version before changing anything, listing the known ones", func(ctx SpecContext) {
			_, err := experiment.Prepare(ctx, experiment.Options{Scenario: runcpipehang.Name,
				Versions: map[string]string{"runc": "nonsense"}})
			Expect(err).To(MatchError(And(ContainSubstring(`unknown runc version "nonsense"`),
				ContainSubstring("rc93"), ContainSubstring("v1.0.0-rc94"))))
		})

		Context("when relapse itself is stopped while runc init is stuck", Label(suitekit.Signal("kill")), func() {
			var relapseBin string
			BeforeAll(func() {
				var err error
				relapseBin, err = gexec.Build("github.com/relapse-dev/relapse/cmd/relapse")
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(gexec.CleanupBuildArtifacts)
			})

			// startHeld runs `relapse repro` holding the stuck init, and
			// returns once the sysctl is lowered and the init is stuck.
			startHeld := func(params ...string) *gexec.Session {
				args := []string{"repro", "--runc", "rc93", "--reports", suitekit.ReportsDir(),
					"--param", "hold=5m", "--param", "baseline=false"}
				for _, p := range params {
					args = append(args, "--param", p)
				}
				cmd := exec.Command(relapseBin, args...)
				s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(func() { s.Kill().Wait(10 * time.Second) })
				Eventually(s.Err, "3m").Should(gbytes.Say("holding pid"))
				Expect(readSysctl()).To(Equal("1"))
				Expect(suitekit.RuncProcesses()).NotTo(BeEmpty())
				return s
			}

			It("puts everything back on SIGINT and keeps the verdict it had reached", SpecTimeout(5*time.Minute), func(ctx SpecContext) {
				s := startHeld()
				s.Signal(os.Interrupt)
				Eventually(s, "1m").Should(gexec.Exit(130))
				baseline.ExpectClean()
				rep, err := report.Load(filepath.Join(suitekit.ReportsDir(), "latest"))
				Expect(err).NotTo(HaveOccurred())
				Expect(rep.Verdict.Result).To(Equal(report.Reproduced), "the hang was classified before the signal")
				Expect(rep.Verdict.Cause).To(Equal(report.CauseEvidence))
				Expect(rep.Interrupted).To(And(ContainSubstring("received interrupt"), ContainSubstring("after the verdict")))
				suitekit.CheckValidJUnit(filepath.Join(suitekit.ReportsDir(), "latest", report.JUnitName))
			})

			It("puts everything back on SIGTERM", SpecTimeout(5*time.Minute), func(ctx SpecContext) {
				s := startHeld()
				s.Signal(syscall.SIGTERM)
				Eventually(s, "1m").Should(gexec.Exit(130))
				baseline.ExpectClean()
			})

			It("leaves a journal on SIGKILL through dockerd that the next run repairs: daemons, shims, netns, cgroups",
				Label(suitekit.Engine("docker")), SpecTimeout(5*time.Minute), func(ctx SpecContext) {
					s := startHeld("engine=docker")
					s.Kill()
					Eventually(s, "30s").Should(gexec.Exit())
					out, err := exec.CommandContext(ctx, relapseBin, "repair").CombinedOutput()
					Expect(err).NotTo(HaveOccurred(), string(out))
					Expect(string(out)).To(And(ContainSubstring("repaired daemon"), ContainSubstring("repaired netns"),
						ContainSubstring("repaired cgroup"), ContainSubstring("restored fs.pipe-user-pages-soft")))
					baseline.ExpectClean()
				})

			It("leaves a journal on SIGKILL that the next run repairs", SpecTimeout(5*time.Minute), func(ctx SpecContext) {
				s := startHeld()
				s.Kill()
				Eventually(s, "30s").Should(gexec.Exit())
				Expect(readSysctl()).To(Equal("1"), "SIGKILL cannot be caught: the change is still in place")
				entries, err := os.ReadDir(run.StateDir() + "/journal")
				Expect(err).NotTo(HaveOccurred())
				Expect(entries).NotTo(BeEmpty())
				out, err := exec.CommandContext(ctx, relapseBin, "repair").CombinedOutput()
				Expect(err).NotTo(HaveOccurred(), string(out))
				Expect(string(out)).To(ContainSubstring("restored fs.pipe-user-pages-soft to " + baseline.Sysctls[runcpipehang.SoftLimitKey]))
				baseline.ExpectClean()
			})
		})
	})

func conditionValue(r *report.Report, name string) string {
	for _, c := range r.Conditions {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func readSysctl() string {
	b, err := os.ReadFile(node.SysctlPath(runcpipehang.SoftLimitKey))
	Expect(err).NotTo(HaveOccurred())
	return strings.TrimSpace(string(b))
}
