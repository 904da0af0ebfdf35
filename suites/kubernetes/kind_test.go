package kubernetes_test

import (
	"os"
	"os/exec"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/extrasandbox"
	"github.com/relapse-dev/relapse/harness/scenarios/plegnotready"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The kind provider: sigs.k8s.io/kind creates the cluster on a dockerd
// relapse runs for the run, from a node image relapse builds offline
// (harness/cluster/kind). kubernetes#92613
// https://github.com/kubernetes/kubernetes/issues/92613 is the scenario it
// must run here.
var _ = Describe("kind clusters", Label(suitekit.Cluster("kind"), suitekit.Slow, "k8s"), Ordered, ContinueOnFailure, func() {
	cleanClusterHost()
	var dockerHost string
	var hadDockerHost bool
	BeforeAll(func() { dockerHost, hadDockerHost = os.LookupEnv("DOCKER_HOST") })
	AfterEach(func() {
		suitekit.Secondary("DOCKER_HOST", func() {
			got, had := os.LookupEnv("DOCKER_HOST")
			Expect([]any{got, had}).To(Equal([]any{dockerHost, hadDockerHost}), "DOCKER_HOST not put back")
		})
	})

	run := func(ctx SpecContext, version, cni string) *experiment.Result {
		return suitekit.Run(ctx, experiment.Options{Scenario: extrasandbox.Name, Versions: map[string]string{"kubernetes": version},
			Params: map[string]string{"cluster": "kind", "cni": cni}})
	}

	It("reproduces kubernetes#92613 on 1.19.3, and the TEST netns-lookup plugin leaks the extra sandboxes' IPs",
		suitekit.BugLabels(extrasandbox.Bug, suitekit.Affected, suitekit.CNI("netns-lookup")), ComponentSemVerConstraint("kubernetes", "1.19.3"), SpecTimeout(40*time.Minute), func(ctx SpecContext) {
			res := run(ctx, "1.19.3", "netns-lookup")
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Findings[0].Kind).To(Equal("extra-sandbox-for-completed-pod"))
			Expect(res.Report.Findings[0].Summary).To(ContainSubstring("IPs leaked (held for sandboxes that are not ready)"))
			Expect(res.Report.NodeSetup).To(ContainElement(HaveField("Value", ContainSubstring("kind v0."))))
		})

	It("does not reproduce on 1.30.14, and nothing leaks under the same churn with the same plugin",
		suitekit.BugLabels(extrasandbox.Bug, suitekit.Fixed, suitekit.CNI("netns-lookup")), ComponentSemVerConstraint("kubernetes", "1.30.14"), SpecTimeout(40*time.Minute), func(ctx SpecContext) {
			res := run(ctx, "1.30.14", "netns-lookup")
			suitekit.ExpectVerdict(res, report.NotReproduced)
			Expect(res.Report.Verdict.Reason).To(ContainSubstring("0 IPs leaked"))
		})

	It("measures PLEG not healthy on a kind node: kubelet reaches containerd through relapse's CRI proxy on a mounted socket",
		suitekit.BugLabels(plegnotready.Bug), ComponentSemVerConstraint("kubernetes", "1.30.14"), SpecTimeout(30*time.Minute), func(ctx SpecContext) {
			res := suitekit.Run(ctx, experiment.Options{Scenario: plegnotready.Name, Versions: map[string]string{"kubernetes": "1.30.14"},
				Params: map[string]string{"cluster": "kind"}})
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Findings[0].Summary).To(ContainSubstring("PLEG is not healthy"))
		})

	It("leaves a journal on SIGKILL of a run with a kind cluster up that `relapse repair` undoes: dockerd, the node container and its kubelet, netns, cgroups, kubelet's sysctls",
		Label(suitekit.Signal("kill")), ComponentSemVerConstraint("kubernetes", "1.30.14"), SpecTimeout(15*time.Minute), func(ctx SpecContext) {
			relapseBin, err := gexec.Build("github.com/relapse-dev/relapse/cmd/relapse")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(gexec.CleanupBuildArtifacts)
			cmd := exec.Command(relapseBin, "repro", "--scenario", extrasandbox.Name, "--version", "kubernetes=1.30.14",
				"--param", "cluster=kind", "--param", "jobs=60", "--param", "every=5s", "--reports", suitekit.ReportsDir())
			s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { s.Kill().Wait(10 * time.Second) })
			// The node's kubelet is a host process (no PID namespace of its own
			// on the host's side): once it runs, the cluster is up.
			Eventually(func() bool { return exec.Command("pgrep", "-f", "^/usr/bin/kubelet ").Run() == nil }, "8m", "2s").Should(BeTrue())
			s.Kill()
			Eventually(s, "30s").Should(gexec.Exit())
			out, err := exec.CommandContext(ctx, relapseBin, "repair").CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), string(out))
			Expect(string(out)).To(And(ContainSubstring("repaired daemon"), ContainSubstring("repaired netns"),
				ContainSubstring("repaired cgroup"), ContainSubstring("restored kernel.panic ")))
			Expect(exec.Command("pgrep", "-f", "^/usr/bin/kubelet ").Run()).To(HaveOccurred(), "the node's kubelet survived the repair")
		})
})
