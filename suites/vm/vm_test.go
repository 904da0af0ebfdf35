package vm_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	"github.com/relapse-dev/relapse/harness/scenarios/systemdcookie"
	"github.com/relapse-dev/relapse/harness/vm"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

var _ = Describe("VM nodes", Label(suitekit.Slow, "vm"), Ordered, ContinueOnFailure, func() {
	var baseline suitekit.HostBaseline
	BeforeAll(func() {
		baseline = suitekit.TakeBaseline(runcpipehang.SoftLimitKey, "kernel.panic", "vm.overcommit_memory", "net.ipv4.ip_forward")
		DeferCleanup(baseline.CheckClean)
		DeferCleanup(baseline.CheckNoVMLeftovers)
	})
	AfterEach(func() {
		baseline.CheckClean()
		baseline.CheckNoVMLeftovers()
	})

	// containerd#5261 https://github.com/containerd/containerd/issues/5261
	// inside a guest: the trigger lowers the guest's fs.pipe-user-pages-soft;
	// the host's must not move, not even for a moment.
	DescribeTable("containerd#5261 reproduces inside a qemu node, and the host's soft limit never changes",
		suitekit.BugLabels(runcpipehang.Bug, suitekit.Affected, suitekit.Node("qemu")),
		func(ctx SpecContext, kernel string) {
			stop := suitekit.WatchSysctl(runcpipehang.SoftLimitKey)
			res := suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name,
				Versions: map[string]string{"runc": "rc93"}, Node: provision.Spec{Provider: "qemu", Kernel: kernel}})
			Expect(stop()).To(Equal([]string{baseline.Sysctls[runcpipehang.SoftLimitKey]}), "values of the host's soft limit seen during the run")
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Provider).To(Equal("qemu"))
			Expect(res.Report.Host.Kernel).To(HavePrefix(strings.TrimSuffix(kernel, "+deb12")))
			Expect(res.Report.Host.PID1).To(Equal("systemd"))
			f := res.Report.Findings[0]
			Expect(f.Kind).To(Equal(pipewrite.Kind))
			Expect(f.Processes[0].Comm).To(Equal("runc:[2:INIT]"))
			Expect(setupValue(res.Report, "accelerator")).NotTo(BeEmpty())
			Expect(setupValue(res.Report, "guest kernel")).To(ContainSubstring("sha256"))
			Expect(setupValue(res.Report, "host kernel parameters (relapse's own machine)")).NotTo(ContainSubstring("CHANGED"))
			Expect(res.Report.Changes).To(And(HaveEach(HaveField("Restored", BeTrue())), ContainElement(HaveField("Kind", "sysctl"))), "the guest's sysctl was put back too, and everything the run made was removed")
		},
		Entry("on Debian's 6.1 kernel", ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(10*time.Minute), "6.1.0-50"),
		Entry("on the 6.12 backports kernel", ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(10*time.Minute), "6.12.117+deb12"),
	)

	It("containerd#5261 does not reproduce on rc94 inside a qemu node", suitekit.BugLabels(runcpipehang.Bug, suitekit.Fixed, suitekit.Node("qemu")),
		ComponentSemVerConstraint("runc", "1.0.0-rc94"), SpecTimeout(10*time.Minute), func(ctx SpecContext) {
			res := suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name, Params: map[string]string{"attempts": "2"},
				Versions: map[string]string{"runc": "rc94"}, Node: provision.Spec{Provider: "qemu"}})
			suitekit.ExpectVerdict(res, report.NotReproduced)
		})

	// The seed's recipe as written: docker run --security-opt
	// no-new-privileges with Docker's default profile. Its filter (7.6 KiB
	// here) overfills only the 1-page pipe of kernels before 5.14, so the
	// node runs Debian's 6.1 built from source with 46c4c9d1beb7 ("pipe:
	// increase minimum default pipe size to 2 pages") reverted.
	Context("containerd#5261 with Docker's default profile on a kernel with 1-page pipes", Ordered, Label(debsrcLabel),
		suitekit.BugLabels(runcpipehang.Bug, suitekit.Node("qemu"), suitekit.Engine("docker")), func() {
			onePageNode := func() provision.Spec {
				return provision.Spec{Provider: "qemu", Kernel: vm.SourcePrefix + debianLinux}
			}
			kernelPatch := map[string][]string{"linux": {suitekit.Fixture("patches/linux/revert-46c4c9d1beb7-6.1.176.patch")}}
			seedRecipe := map[string]string{"engine": "docker", "profile": "docker-default", "attempts": "3"}
			It("REPRODUCES on rc93", Label(suitekit.Affected), ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(90*time.Minute),
				func(ctx SpecContext) {
					res := suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name, Versions: map[string]string{"runc": "rc93"},
						Params: seedRecipe, Node: onePageNode(), Patches: kernelPatch})
					suitekit.ExpectVerdict(res, report.Reproduced)
					Expect(res.Report.Findings[0].Kind).To(Equal(pipewrite.Kind))
					Expect(res.Report.Findings[0].Summary).To(ContainSubstring("4096-byte pipe"))
					Expect(setupValue(res.Report, "kernel")).To(ContainSubstring("linux 46c4c9d1beb7 reverted"))
				})
			It("is NOT REPRODUCED on rc94, with the containers' pipes at one page", Label(suitekit.Fixed), ComponentSemVerConstraint("runc", "1.0.0-rc94"), SpecTimeout(30*time.Minute),
				func(ctx SpecContext) {
					res := suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name, Versions: map[string]string{"runc": "rc94"},
						Params: seedRecipe, Node: onePageNode(), Patches: kernelPatch})
					suitekit.ExpectVerdict(res, report.NotReproduced)
					Expect(res.Report.Verdict.Reason).To(ContainSubstring("pipes held 4096 bytes"))
				})
		})

	// systemd#11809 https://github.com/systemd/systemd/issues/11809, fixed by
	// https://github.com/systemd/systemd/pull/11818: PID 1's cookie is moved
	// near 0xffffffff and pushed over by D-Bus load.
	Context("systemd#11809 / systemd#11818 cookie overrun", suitekit.BugLabels(systemdcookie.Bug, suitekit.Node("qemu")), func() {
		It("is NOT REPRODUCED on bookworm's systemd 252, with the cookie seen wrapping to 0x80000000", Label(suitekit.Fixed),
			ComponentSemVerConstraint("systemd", "252"), SpecTimeout(10*time.Minute), func(ctx SpecContext) {
				res := suitekit.Run(ctx, experiment.Options{Scenario: systemdcookie.Name, Node: provision.Spec{Provider: "qemu"},
					Params: map[string]string{"containers": "2"}})
				suitekit.ExpectVerdict(res, report.NotReproduced)
				Expect(res.Report.Observed).To(HaveKeyWithValue("systemd", HavePrefix("252")))
				Expect(conditionValue(res.Report, "PID 1's bus cookie")).To(ContainSubstring("moved from"))
				Expect(evidenceText(res.Report, "D-Bus probe")).To(ContainSubstring("0x80000"), "serials after the wrap")
				Expect(res.Report.Changes).To(ContainElement(And(HaveField("Kind", "pid1-memory"), HaveField("Disposable", true))))
				Expect(res.Report.Attempts).To(HaveEach(HaveField("Outcome", HavePrefix("started"))), "runc --systemd-cgroup containers before and after the wrap")
			})

		// No system with systemd < 242 can be had offline: Debian's 252 is
		// built from source with the fix (systemd#11818) taken out. That
		// restores <= 241's cookie handling (no serial past 0xffffffff), but
		// not the hang: 252's sd-bus closes a connection whose processing
		// fails and PID 1 connects again. The spec pins that finding; the
		// run expects REPRODUCED because of the patch, and says INCONCLUSIVE
		// with why, never REPRODUCED without the silence.
		It("reaches the overrun on systemd 252 built from Debian source with systemd#11818 reverted, where PID 1 reconnects instead of going silent",
			Label(suitekit.FixRevert, debsrcLabel), ComponentSemVerConstraint("systemd", "252"), SpecTimeout(90*time.Minute),
			func(ctx SpecContext) {
				patch := suitekit.Fixture("patches/systemd/revert-11818-252.39.patch")
				res := suitekit.Run(ctx, experiment.Options{Scenario: systemdcookie.Name, Params: map[string]string{"containers": "2"},
					Node:    provision.Spec{Provider: "qemu", Systemd: vm.SourcePrefix + debianSystemd},
					Patches: map[string][]string{"systemd": {patch}}})
				suitekit.ExpectVerdict(res, report.Inconclusive)
				Expect(res.Report.Verdict.Reason).To(ContainSubstring("dropped its API bus connection and connected again"))
				Expect(evidenceText(res.Report, "D-Bus probe")).To(HaveSuffix("4294967295 (0xffffffff)"), "no serial after 0xffffffff on that connection")
				Expect(conditionValue(res.Report, "systemd (PID 1)")).To(ContainSubstring("+relapse."), "PID 1 is the patched build")
				Expect(res.Report.Verdict.ExpectedWhy).To(ContainSubstring("systemd#11818 taken out by a patch"))
				Expect(setupValue(res.Report, "systemd")).To(Equal("systemd " + debianSystemd + " (Debian source) with systemd#11818 reverted"))
				Expect(filepath.Join(res.Paths.Dir, "patches", filepath.Base(patch))).To(BeAnExistingFile(), "the diff travels with the report")
				Expect(filepath.Join(res.Paths.Dir, "build-systemd.sh")).To(BeAnExistingFile(), "and so does the hand-build script")
			})

		// With the sd-bus change that made a processing error close the
		// connection (5ae37ad8) taken out as well, a processing error
		// disables the connection's event source again, as before it: the
		// overrun leaves PID 1 silent on the system bus for good.
		It("REPRODUCES on systemd 252 built from Debian source with systemd#11818 and 5ae37ad8 reverted (systemd < 242's behaviour)",
			Label(suitekit.FixRevert, suitekit.Affected, debsrcLabel), ComponentSemVerConstraint("systemd", "252"), SpecTimeout(90*time.Minute),
			func(ctx SpecContext) {
				patches := []string{suitekit.Fixture("patches/systemd/revert-11818-252.39.patch"), suitekit.Fixture("patches/systemd/revert-5ae37ad8-252.39.patch")}
				res := suitekit.Run(ctx, experiment.Options{Scenario: systemdcookie.Name, Params: map[string]string{"containers": "2"},
					Node:    provision.Spec{Provider: "qemu", Systemd: vm.SourcePrefix + debianSystemd},
					Patches: map[string][]string{"systemd": patches}})
				suitekit.ExpectVerdict(res, report.Reproduced)
				Expect(res.Report.Findings[0].Kind).To(Equal(detect.KindSystemdUnresponsive))
				Expect(res.Report.Findings[0].Reasons).To(ContainElement(ContainSubstring("PID 1's cookie was last seen at 4294967295")))
				Expect(res.Report.Attempts).To(ContainElement(HaveField("Outcome", ContainSubstring("did not finish"))), "runc --systemd-cgroup blocks after the stall")
				Expect(setupValue(res.Report, "systemd")).To(Equal("systemd " + debianSystemd + " (Debian source) with systemd#11818 and systemd 5ae37ad8 reverted"))
			})
	})

	// One scenario end to end through the vagrant CLI, libvirt and relapse's box.
	It("containerd#5261 reproduces through Vagrant (vagrant up, ssh, destroy) with libvirt's state kept off the host",
		suitekit.BugLabels(runcpipehang.Bug, suitekit.Affected, suitekit.Node("vagrant")), ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(20*time.Minute),
		func(ctx SpecContext) {
			stop := suitekit.WatchSysctl("net.ipv4.ip_forward")
			res := suitekit.Run(ctx, experiment.Options{Scenario: runcpipehang.Name,
				Versions: map[string]string{"runc": "rc93"}, Node: provision.Spec{Provider: "vagrant"}})
			Expect(stop()).To(HaveLen(1), "libvirt's NAT network must not touch the host's ip_forward")
			suitekit.ExpectVerdict(res, report.Reproduced)
			Expect(res.Report.Provider).To(Equal("vagrant"))
			Expect(res.Report.Timeline).To(ContainElement(HaveField("Name", "vagrant destroy")))
		})

	Context("when relapse is killed while a VM node runs", Label(suitekit.Signal("kill"), suitekit.Node("qemu")), func() {
		It("leaves a journal that the next run repairs: qemu, its ssh master and its directory go", SpecTimeout(10*time.Minute),
			func(ctx SpecContext) {
				bin, err := gexec.Build("github.com/relapse-dev/relapse/cmd/relapse")
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(gexec.CleanupBuildArtifacts)
				cmd := exec.Command(bin, "repro", "--provider", "qemu", "--runc", "rc93", "--reports", suitekit.ReportsDir(),
					"--param", "hold=5m", "--param", "baseline=false")
				s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(func() { s.Kill().Wait(10 * time.Second) })
				Eventually(s.Err, "5m").Should(gbytes.Say("holding pid"))
				s.Kill()
				Eventually(s, "30s").Should(gexec.Exit())
				out, err := exec.CommandContext(ctx, bin, "repair").CombinedOutput()
				Expect(err).NotTo(HaveOccurred(), string(out))
				Expect(string(out)).To(And(ContainSubstring("repaired qemu-node"), ContainSubstring("stopped the VM node")))
				baseline.ExpectNoVMLeftovers()
			})
	})
})

// Input checks: cheap, no VM is booted, so `make test` runs them.
var _ = Describe("VM node input checks", Label("vm"), func() {
	It("refuses the local node before changing anything", func(ctx SpecContext) {
		_, err := experiment.Prepare(ctx, experiment.Options{Scenario: systemdcookie.Name})
		Expect(err).To(MatchError(ContainSubstring("PROVIDER=qemu or PROVIDER=vagrant")))
	})
	It("refuses a linux patch without a kernel built from source, and a malformed source version", func(ctx SpecContext) {
		patch := map[string][]string{"linux": {suitekit.Fixture("patches/linux/revert-46c4c9d1beb7-6.1.176.patch")}}
		_, err := experiment.Prepare(ctx, experiment.Options{Scenario: runcpipehang.Name, Versions: map[string]string{"runc": "rc93"},
			Node: provision.Spec{Provider: "qemu"}, Patches: patch})
		Expect(err).To(MatchError(ContainSubstring("give KERNEL=source:<Debian version>")))
		_, err = experiment.Prepare(ctx, experiment.Options{Scenario: runcpipehang.Name, Versions: map[string]string{"runc": "rc93"},
			Node: provision.Spec{Provider: "qemu", Kernel: "source:six"}})
		Expect(err).To(MatchError(ContainSubstring(`"six" is not a Debian version of the linux source package`)))
		_, err = experiment.Prepare(ctx, experiment.Options{Scenario: systemdcookie.Name, Node: provision.Spec{Provider: "qemu", Systemd: "252"}})
		Expect(err).To(MatchError(ContainSubstring("want source:<Debian version>")))
	})
	It("rejects an unknown kernel before changing anything, listing the known ones", func(ctx SpecContext) {
		_, err := experiment.Prepare(ctx, experiment.Options{Scenario: runcpipehang.Name,
			Versions: map[string]string{"runc": "rc93"}, Node: provision.Spec{Provider: "qemu", Kernel: "5.99.0-1"}})
		Expect(err).To(MatchError(And(ContainSubstring("apt has no package linux-image-5.99.0-1-cloud-amd64"),
			ContainSubstring("6.12.117+deb12"), ContainSubstring("6.1.0-50"))))
	})

})

// debsrcLabel marks specs that build a component from Debian source (slow
// the first time: make test-debsrc).
const debsrcLabel = "debsrc"

// The Debian source versions the VM specs build (the mirror's bookworm).
const (
	debianLinux   = "6.1.176-1"
	debianSystemd = "252.39-1~deb12u2"
)

func setupValue(r *report.Report, name string) string {
	for _, f := range r.NodeSetup {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func conditionValue(r *report.Report, name string) string {
	for _, f := range r.Conditions {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func evidenceText(r *report.Report, prefix string) string {
	for _, b := range r.Evidence {
		if strings.HasPrefix(b.Title, prefix) {
			return b.Text
		}
	}
	return ""
}
