package suitekit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/privdir"
	"github.com/relapse-dev/relapse/harness/provision/qemu"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/suites/suitekit/secondary"
)

// Secondary runs a check that must not stop or skip a verdict spec: its
// failures are reported after the suite (package secondary).
var Secondary = secondary.Check

// ReportsDir is where suite runs write reports: $RELAPSE_REPORTS or the
// repository's reports/ directory.
func ReportsDir() string {
	if d := os.Getenv("RELAPSE_REPORTS"); d != "" {
		return d
	}
	if root := repoRoot(); root != "" {
		return filepath.Join(root, "reports")
	}
	return filepath.Join(os.TempDir(), "relapse-reports")
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() string {
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	return ""
}

// RepoPath is the path of a file given from the repository's root (a kit
// bug's revert patch beside its declaration).
func RepoPath(rel string) string { return filepath.Join(repoRoot(), rel) }

// Fixture is the path of a file under the repository's fixtures/.
func Fixture(rel string) string { return filepath.Join(repoRoot(), "fixtures", rel) }

// ExpectValidJUnit checks a report's junit.xml against the JUnit schema CI
// tools read (harness/report/testdata/junit.xsd) with xmllint.
func ExpectValidJUnit(path string) {
	GinkgoHelper()
	schema := filepath.Join(repoRoot(), "harness", "report", "testdata", "junit.xsd")
	out, err := exec.Command("xmllint", "--noout", "--schema", schema, path).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s does not validate against %s (xmllint, Debian libxml2-utils):\n%s", path, schema, out)
}

// CheckValidJUnit is ExpectValidJUnit as a secondary check (Secondary).
func CheckValidJUnit(path string) {
	Secondary("junit.xml against the JUnit schema", func() { ExpectValidJUnit(path) })
}

// ExpectReportReadable renders the report in headless Chromium with the
// pinned fonts at 1400 and 1024 px (report.CheckPages): nothing is wider
// than the window or its box, the verdict and the decisive evidence are
// on the first screen, the page fetches nothing, and every link reaches a
// file of the report.
func ExpectReportReadable(ctx context.Context, res *experiment.Result) {
	GinkgoHelper()
	problems, err := report.CheckPages(ctx, res.Paths.HTML, res.Report)
	Expect(err).NotTo(HaveOccurred(), "rendering %s", res.Paths.HTML)
	Expect(problems).To(BeEmpty(), "%s is not readable", res.Paths.HTML)
}

// Run prepares and executes a scenario, attaching the report to the spec.
// What decides the spec is the caller's verdict assertion; the report's
// JUnit, its page and the errors it recorded are secondary checks
// (Secondary): a failure of one is reported after the suite and skips no
// spec.
func Run(ctx context.Context, o experiment.Options) *experiment.Result {
	GinkgoHelper()
	if o.ReportsDir == "" {
		o.ReportsDir = ReportsDir()
	}
	o.Log = GinkgoWriter
	o.LockWait = lockWait(o.LockWait)
	o.Invocation = "the Ginkgo spec \"" + CurrentSpecReport().FullText() + "\" (rerun it with the command below)"
	plan, err := experiment.Prepare(ctx, o)
	Expect(err).NotTo(HaveOccurred(), "preparing %s", o.Scenario)
	res, err := plan.Execute(ctx)
	Expect(err).NotTo(HaveOccurred(), "executing %s", o.Scenario)
	AddReportEntry("report", res.Paths.HTML)
	GinkgoWriter.Printf("verdict %s: %s\nreport %s\n", res.Report.Verdict.Result, res.Report.Verdict.Reason, res.Paths.HTML)
	CheckValidJUnit(res.Paths.JUnit)
	Secondary("report page", func() { ExpectReportReadable(ctx, res) })
	Secondary("errors recorded in the report", func() {
		Expect(res.Report.Errors).To(BeEmpty(), "errors recorded in %s", res.Paths.JSON)
	})
	return res
}

// ExpectVerdict asserts the result and that it matches the affected range.
func ExpectVerdict(res *experiment.Result, want report.Result) {
	GinkgoHelper()
	v := res.Report.Verdict
	Expect(v.Result).To(Equal(want), "verdict reason: %s (report %s)", v.Reason, res.Paths.HTML)
	if want != report.Inconclusive {
		Expect(v.Matches).To(BeTrue(), "expected %s: %s", v.Expected, v.ExpectedWhy)
	}
}

// HostBaseline is the state a suite must leave the host in.
type HostBaseline struct {
	Sysctls map[string]string
	// Absent are host paths engines write to by default that did not exist
	// at the start; relapse's engines must keep them absent.
	Absent []string
	// Firewall is iptables-save's rules (counters stripped) and ip_forward.
	Firewall string
	// Libvirt lists libvirt's host directories (VM suites).
	Libvirt string
}

// engineDefaultPaths are where containerd and its shims write when not
// confined (shim sockets, runc state, the opt plugin), and podman's
// defaults (storage, run root, tmpdir, its cgroup parent under cgroupfs).
var engineDefaultPaths = []string{"/run/containerd", "/opt/containerd", "/run/docker", "/var/lib/docker", "/var/lib/containerd",
	"/run/containers", "/var/lib/containers", "/run/libpod", "/sys/fs/cgroup/memory/libpod_parent", "/sys/fs/cgroup/libpod_parent"}

// TakeBaseline reads the sysctls relapse may change.
func TakeBaseline(keys ...string) HostBaseline {
	GinkgoHelper()
	b := HostBaseline{Sysctls: map[string]string{}, Firewall: firewall(), Libvirt: libvirtState()}
	for _, p := range engineDefaultPaths {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			b.Absent = append(b.Absent, p)
		}
	}
	for _, k := range keys {
		v, err := os.ReadFile(node.SysctlPath(k))
		Expect(err).NotTo(HaveOccurred())
		b.Sysctls[k] = strings.TrimSpace(string(v))
	}
	return b
}

// ExpectClean asserts that nothing relapse starts or changes is left: the
// sysctls read at the start, no runc process, no journal entry, no run
// directory, no container cgroup.
func (b HostBaseline) ExpectClean() {
	GinkgoHelper()
	for k, want := range b.Sysctls {
		got, err := os.ReadFile(node.SysctlPath(k))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(string(got))).To(Equal(want), "sysctl %s not restored", k)
	}
	Expect(RuncProcesses()).To(BeEmpty(), "runc processes left behind")
	Expect(firewall()).To(Equal(b.Firewall), "iptables rules or ip_forward changed")
	for _, p := range b.Absent {
		_, err := os.Stat(p)
		Expect(os.IsNotExist(err)).To(BeTrue(), "%s appeared on the host: an engine wrote outside its private directories", p)
	}
	entries, err := os.ReadDir(filepath.Join(run.StateDir(), "journal"))
	if err == nil {
		Expect(entries).To(BeEmpty(), "journal entries left (changes not undone)")
	}
	runs, _ := filepath.Glob(filepath.Join(run.DirRoot(), "*"))
	Expect(runs).To(BeEmpty(), "run directories left")
	ExpectPrivateRoot()
	Expect(netnsNames()).NotTo(ContainElement(HavePrefix("relapse-")), "network namespaces left")
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/relapse-*")
	more, _ := filepath.Glob("/sys/fs/cgroup/relapse-*")
	Expect(append(cgroups, more...)).To(BeEmpty(), "container cgroups left")
}

// CheckClean is ExpectClean as a secondary check (Secondary): for the
// AfterEach and the end of an Ordered container, where a leftover must be
// reported without skipping the verdict specs after it.
func (b HostBaseline) CheckClean() { Secondary("host state", b.ExpectClean) }

// ExpectPrivateRoot asserts that relapse's root and the parents of run
// and VM directories, where they exist, are still private to root: a run
// never leaves them open to another user.
func ExpectPrivateRoot() {
	GinkgoHelper()
	for _, dir := range []string{privdir.Root(), run.DirRoot(), qemu.VMRoot()} {
		if _, err := os.Lstat(dir); os.IsNotExist(err) {
			continue
		}
		Expect(privdir.Check(dir)).To(Succeed(), "relapse's private directory %s", dir)
	}
}

// relapseRunDirs is where every engine relapse starts keeps its files; a
// user's own dockerd or containerd is never under it.
var relapseRunDirs = run.DirRoot() + "/"

func engineProcess(p evidence.Process, underRelapse map[int]bool) bool {
	if strings.HasPrefix(p.Comm, "runc:[") || p.Comm == "runc" || p.Comm == "conmon" || underRelapse[p.PID] {
		return true
	}
	return len(p.Cmdline) > 0 && filepath.Base(p.Cmdline[0]) == "runc"
}

// RuncProcesses lists live runc processes, and every process of an engine
// relapse started, on the host, as "pid cmdline".
// Zombies are left out: a killed init whose runc parent exited is reparented
// to PID 1, which reaps it in its own time; it holds no resources.
func RuncProcesses() []string {
	procs, err := evidence.LocalProc.Processes()
	Expect(err).NotTo(HaveOccurred())
	underRelapse := map[int]bool{}
	for _, p := range evidence.ProcessesUnder(procs, relapseRunDirs) {
		underRelapse[p.PID] = true
	}
	var out []string
	for _, p := range procs {
		if p.State == "Z" {
			continue
		}
		if engineProcess(p, underRelapse) {
			out = append(out, fmt.Sprintf("%d %s", p.PID, p.CommandLine()))
		}
	}
	return out
}

func netnsNames() []string {
	entries, _ := os.ReadDir("/run/netns")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// firewall is the host's iptables rules and ip_forward, which a dockerd in
// the host's network namespace would rewrite.
func firewall() string {
	fwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	out := "ip_forward=" + strings.TrimSpace(string(fwd)) + "\n"
	if rules, err := exec.Command("iptables-save").Output(); err == nil {
		for _, line := range strings.Split(string(rules), "\n") {
			if !strings.HasPrefix(line, "#") {
				out += line + "\n"
			}
		}
	}
	return out
}

// vmRunDirs hold the host side of VM nodes (qemu overlays, Vagrant and
// libvirt state of a run).
var vmRunDirs = qemu.VMRoot()

// ExpectNoVMLeftovers asserts that no VM node of a run survives it: no
// process naming a VM directory (qemu, a private libvirtd, virtlogd, an ssh
// master), no VM directory, and libvirt's host state as it was.
func (b HostBaseline) ExpectNoVMLeftovers() {
	GinkgoHelper()
	procs, err := evidence.LocalProc.Processes()
	Expect(err).NotTo(HaveOccurred())
	var left []string
	for _, p := range evidence.ProcessesUnder(procs, vmRunDirs+"/") {
		left = append(left, fmt.Sprintf("%d %s", p.PID, p.CommandLine()))
	}
	Expect(left).To(BeEmpty(), "VM node processes left behind")
	dirs, _ := filepath.Glob(filepath.Join(vmRunDirs, "*"))
	Expect(dirs).To(BeEmpty(), "VM node directories left")
	Expect(libvirtState()).To(Equal(b.Libvirt), "libvirt's host configuration or state changed")
}

// CheckNoVMLeftovers is ExpectNoVMLeftovers as a secondary check.
func (b HostBaseline) CheckNoVMLeftovers() { Secondary("VM node leftovers", b.ExpectNoVMLeftovers) }

// libvirtState lists libvirt's host configuration and state directories,
// which relapse's private libvirtd must never write.
func libvirtState() string {
	var out []string
	for _, root := range []string{"/etc/libvirt", "/var/lib/libvirt", "/var/log/libvirt"} {
		_ = filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
			if err == nil {
				out = append(out, fmt.Sprintf("%s %d %s", path, info.Size(), info.ModTime().UTC().Format("150405.000")))
			}
			return nil
		})
	}
	return strings.Join(out, "\n")
}

// WatchSysctl samples a host sysctl every 50 ms until the returned
// function is called, which returns every distinct value seen: a VM run
// must show only the value it started with.
func WatchSysctl(key string) (stop func() []string) {
	done := make(chan struct{})
	seen := make(chan []string, 1)
	go func() {
		values := map[string]bool{}
		var order []string
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := os.ReadFile(node.SysctlPath(key)); err == nil {
				s := strings.TrimSpace(string(v))
				if !values[s] {
					values[s] = true
					order = append(order, s)
				}
			}
			select {
			case <-done:
				seen <- order
				return
			case <-t.C:
			}
		}
	}()
	return func() []string { close(done); return <-seen }
}

// RunRootSuite runs a suite's specs, or skips the whole suite saying why
// root is needed: every relapse suite runs real daemons and changes the host.
func RunRootSuite(t *testing.T, name, why string) {
	RegisterFailHandler(Fail)
	if os.Geteuid() != 0 {
		t.Skipf("the %s suite %s: it needs root", name, why)
	}
	secondary.Report()
	RunSpecs(t, name)
}
