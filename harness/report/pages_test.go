package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/browser"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/versions"
)

// A corpus of report pages as runs make them: every scenario's kind of
// finding, cold and cached builds, many repetitions, long names and
// unbreakable tokens, interrupted and failed runs. Each is written with
// Write (the files a run leaves) and checked in Chromium with the pinned
// fonts at every width of PageWidths: nothing wider than the window or its
// box, the verdict and the decisive evidence on the first screen.
func TestPagesHoldInEveryWidth(t *testing.T) {
	if _, err := browser.Binary(); err != nil {
		t.Skipf("skipped: %v", err)
	}
	ctx := context.Background()
	// RELAPSE_KEEP_PAGES=dir keeps the pages, with a screenshot of each
	// at 1024 px, to look at them.
	root, keep := t.TempDir(), os.Getenv("RELAPSE_KEEP_PAGES")
	if keep != "" {
		root = keep
	}
	for _, c := range pageCorpus() {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, c.name)
			paths, err := Write(dir, c.r)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.r.Files {
				if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f.Path)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f.Path), []byte("saved"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			problems, err := CheckPages(ctx, paths.HTML, c.r)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
			if keep != "" {
				if err := browser.Screenshot(ctx, paths.HTML, filepath.Join(dir, "report-1024.png"), 1024, 2000); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

type pageCase struct {
	name string
	r    *Report
}

// long is a name as long as the ones real runs produce: a patched build
// of a bisected commit on a kernel built from source.
const long = "v1.0.0-rc94+patched.revert-2871-v1.0.0-rc94.patch+local-tree-0123456789abcdef0123456789abcdef01234567"

func pageCorpus() []pageCase {
	return []pageCase{
		{"pipe-hang-cold-build", coldBuild()},
		{"pipe-hang-cached", reproducedReport()},
		{"pipe-hang-docker", throughDocker()},
		{"many-repetitions", manyRepetitions()},
		{"long-names", longNames()},
		{"interrupted", interrupted()},
		{"mismatch-unrestored", mismatchReport()},
		{"inconclusive-missing", inconclusiveReport()},
		{"containerd-metrics-deadlock", containerdDeadlock()},
		{"extra-sandbox-kind", extraSandbox()},
		{"pleg-not-healthy", plegNotHealthy()},
		{"systemd-cookie-qemu", systemdCookie()},
		{"errnoret-podman", errnoRet()},
		{"racy-kit-bug-inconclusive", racyKitBug()},
	}
}

// coldBuild is rc93 built from the module proxy before the run: the chart
// leaves the 40-second build out and says so in its legend (the label that
// once ran out of the page).
func coldBuild() *Report {
	r := reproducedReport()
	r.RunID = "20261206T071502Z-runc-pipe-hang-rc93-7f3a"
	r.Components = []versions.Artifact{runcArtifact("v1.0.0-rc93", rc93Sum, false)}
	r.TimeToVerdict = 47.9
	steps := []Step{{At: at(-43.5), Name: "build runc", Detail: "v1.0.0-rc93 from the module proxy", Command: r.Components[0].BuildCommand, Seconds: 41.372, Status: "ok"},
		{At: at(-2), Name: "build relapse-init", Detail: "static, CGO_ENABLED=0", Seconds: 1.9, Status: "ok"}}
	r.Timeline = append(steps, r.Timeline...)
	r.Timeline = append(r.Timeline, Step{At: at(9.31), Name: "cleanup", Detail: "remove run directory", Seconds: 0.12, Status: "ok"})
	r.Rerun = "relapse repro --scenario runc-pipe-hang --version runc=rc93 --param engine=runc --param attempts=1 --reports ./reports"
	return r
}

func throughDocker() *Report {
	r := coldBuild()
	r.RunID = "20261206T072011Z-runc-pipe-hang-rc93-docker-c0de"
	r.Variant = "engine=docker"
	r.Stack = []Fact{{"dockerd", "Docker version 20.10.24+dfsg1, build 297e128 (Debian docker.io 20.10.24+dfsg1-1+deb12u1)"},
		{"containerd (managed by dockerd)", "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u1"}}
	r.Conditions = append(r.Conditions, Fact{"docker inspect (stuck container) while runc init is stuck", "failed after 10s: context deadline exceeded (Client.Timeout exceeded while awaiting headers) — the daemon holds the container's lock while runc init is stuck"})
	for i := 1; i <= 6; i++ {
		r.Timeline = append(r.Timeline, Step{At: at(1.7 + float64(i)*0.4), Name: fmt.Sprintf("attempt %d: docker run -d --security-opt no-new-privileges", i),
			Command: "docker --host unix:///run/relapse/20261206T072011Z/docker.sock run -d --security-opt no-new-privileges --security-opt seccomp=/run/relapse/profile.json busybox true",
			Seconds: 0.47, Status: "ok"})
	}
	r.Timeline = append(r.Timeline, Step{At: at(5), Name: "docker inspect stuck container", Seconds: 10, Status: "timeout"})
	// What a real run through dockerd recorded: a URL with a 64-digit
	// container id, in the finding's reasons and in the errors.
	stuck := `docker inspect (stuck container) failed after 10.01s: Get "http://%2Ftmp%2Frelapse%2F4392e5%2Fdocker%2Fdocker.sock/v1.41/containers/781766524b0f99bbce6458e8c9738175e4b44bb8302cbd8766c7fa142586ea97/json": context deadline exceeded`
	r.Findings[0].Reasons = append(r.Findings[0].Reasons, stuck)
	r.Errors = append(r.Errors, stuck)
	r.Findings[0].Processes = append(r.Findings[0].Processes, evidence.ProcessSnapshot{Process: evidence.Process{PID: 4101, PPID: 1, Comm: "containerd-shim",
		Cmdline: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "3f0c1e4a9b7d2c6e8f1a0b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f", "-address", "/run/relapse/20261206T072011Z/containerd/containerd.sock"},
		State:   "S", Wchan: "do_epoll_wait"}, Taken: at(4.3)})
	return r
}

// manyRepetitions is a racy scenario repeated 30 times with 5 attempts
// each and a control: more steps than the chart draws, 31 attempts in the
// glance's table (it shows 8), the rate with its interval.
func manyRepetitions() *Report {
	r := notReproducedReport()
	r.RunID = "20261206T073000Z-runc-pipe-hang-1.1.14-repeat-30"
	r.Verdict.Rate = NewRate(0, 30)
	r.Verdict.Reason = "0 of 30 repetitions reproduced (95% upper bound 11.4%, below the 20% the scenario rules out); every attempt's pipes held 8192 bytes"
	r.Timeline = nil
	r.Attempts = []Attempt{{N: 0, Label: "control: host's own pipe limit, no trigger", Container: "relapse-1.1.14-0", Outcome: "started", Seconds: 0.38, InitOutput: `{"pipe_size":65536,"nnp":1}`}}
	for rep := 1; rep <= 30; rep++ {
		base := float64(rep) * 3
		r.Timeline = append(r.Timeline, Step{At: at(base), Name: "repetition", Detail: fmt.Sprintf("%d of 30", rep)},
			Step{At: at(base + 0.1), Name: "trigger armed", Detail: "fs.pipe-user-pages-soft=1"})
		for n := 1; n <= 5; n++ {
			r.Timeline = append(r.Timeline, Step{At: at(base + 0.2 + float64(n)*0.4), Name: fmt.Sprintf("attempt %d: runc run", n), Seconds: 0.39, Status: "ok"})
			r.Attempts = append(r.Attempts, Attempt{Repetition: rep, N: n, Container: fmt.Sprintf("relapse-1.1.14-r%02d-%d", rep, n), Outcome: "started", Seconds: 0.39,
				InitOutput: `{"pipe_size":8192,"pipe_queued":0,"nnp":1,"seccomp":2,"filter_bytes":13080}`})
		}
		r.Repetitions = append(r.Repetitions, Repetition{N: rep, Result: NotReproduced, Reason: "5 of 5 containers started", Seconds: 2.4})
	}
	return r
}

// longNames fills every name a run can make long with long and
// unbreakable text: a patched local-tree build, hashes, paths, a long
// title, step names past the chart's label column.
func longNames() *Report {
	r := coldBuild()
	r.RunID = "20261206T074500Z-runc-pipe-hang-" + strings.ReplaceAll(long, "+", "-")
	r.Scenario = "runc-pipe-hang-k8s-with-a-scenario-name-nobody-would-type-twice"
	r.Bug.Title = "runc init hangs writing its seccomp filter into a pipe shrunk by fs.pipe-user-pages-soft (containerd#5261, runc#2828, runc#2871): docker run and kubelet's CreateContainer never return and the node's pods stay ContainerCreating"
	r.Verdict.Version = long
	r.Verdict.Build = "patched: revert-2871-v1.0.0-rc94.patch, revert-2871-v1.0.0-rc94-followup-with-a-much-longer-name.patch; local tree /root/src/github.com/opencontainers/runc at 0123456789abcdef0123456789abcdef01234567"
	r.Verdict.ExpectedWhy = "runc#2871 taken out by a patch (revert-2871-v1.0.0-rc94.patch): the build behaves as the releases before the fix, >= 1.0.0-rc93, < 1.0.0-rc94"
	r.Components[0].Version = long
	r.Components[0].Path = "/root/.cache/relapse/builds/runc/" + long + "_go1.26.8_seccomp_apparmor_selinux/runc"
	r.Components[0].Tags = []string{"seccomp", "apparmor", "selinux", "netgo", "osusergo"}
	r.Rerun = "relapse repro --scenario " + r.Scenario + " --version runc=" + long + " --patch runc=fixtures/patches/runc/revert-2871-v1.0.0-rc94.patch --param engine=containerd --param attempts=5 --repeat 30 --provider qemu --kernel source:6.1.176-1"
	r.Parameters = append(r.Parameters, Fact{"profile", "/root/src/relapse/fixtures/seccomp/docker-default-with-300-extra-rules-and-a-clone3-errno-rule.json"},
		Fact{"sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a089f86d081884c7d659a2feaa0c55ad015"})
	r.Host.KernelFull = strings.Repeat("Linux version 6.12.117+deb12-cloud-amd64 ", 4)
	r.NodeSetup = []Fact{{"qemu command", "qemu-system-x86_64 -enable-kvm -machine q35,accel=kvm -cpu host -smp 2 -m 4096 -nographic -kernel /root/.cache/relapse/vm/kernels/vmlinuz-6.1.176-1+relapse.46c4c9d1beb7-reverted -drive file=/tmp/relapse-vm/0123456789abcdef/overlay.qcow2,if=virtio,format=qcow2 -netdev user,id=n0,hostfwd=tcp:127.0.0.1:40123-:22"},
		{"root filesystem", "sha256:" + strings.Repeat("0123456789abcdef", 4)}}
	for i := range r.Timeline {
		if r.Timeline[i].Name == "attempt 1: runc run" {
			r.Timeline[i].Name = "attempt 1: runc --root /run/relapse/20261206T074500Z/runc run -d relapse-" + long
		}
	}
	r.Evidence = append(r.Evidence, Block{Title: "journalctl -u containerd --since 2026-12-06T07:45:00Z --no-pager -o short-precise " + long,
		Text: strings.Repeat("x", 400) + "\n" + strings.Repeat("level=info msg=\"starting containerd\" revision=1.6.20~ds1 version=1.6.20~ds1 ", 8)})
	r.Findings[0].Processes[1].Cmdline = append(r.Findings[0].Processes[1].Cmdline, "--log", "/run/relapse/20261206T074500Z/"+strings.Repeat("deep/", 30)+"runc.log")
	r.Files = append(r.Files, File{Name: "patches/runc/revert-2871-v1.0.0-rc94-followup-with-a-much-longer-name.patch", Path: "patches/runc/revert-2871-v1.0.0-rc94-followup-with-a-much-longer-name.patch", Description: "the diff applied"})
	return r
}

// interrupted is a run stopped by SIGINT after its verdict: relapse killed
// the stuck command and put the node back.
func interrupted() *Report {
	r := coldBuild()
	r.RunID = "20261206T075000Z-runc-pipe-hang-rc93-int"
	r.Interrupted = "received interrupt at 07:50:06.120 after the verdict; everything was put back"
	r.Timeline = append(r.Timeline,
		Step{At: at(4.4), Name: "holding the stuck process", Detail: "pid 4242 for 5m0s"},
		Step{At: at(6.12), Name: "interrupted", Detail: "SIGINT"},
		Step{At: at(6.13), Name: "runc delete -f relapse-rc93-1", Seconds: 2.0, Status: StatusKilled},
		Step{At: at(8.2), Name: "restore fs.pipe-user-pages-soft", Seconds: 0.01, Status: "failed"})
	return r
}

func containerdDeadlock() *Report {
	r := coldBuild()
	r.RunID = "20261206T080000Z-containerd-metrics-deadlock-1.6.2"
	r.Scenario = "containerd-metrics-deadlock"
	r.Bug = Bug{ID: "containerd#6772", Fix: "containerd#6801", Title: "task Create deadlocks with a metrics scrape; runc init waits forever on exec.fifo",
		Summary: "containerd 1.6.0-1.6.2 takes the namespace lock in Create and the collector lock in Collect in opposite orders.", Component: "containerd",
		Affected: ">= 1.6.0, < 1.6.3", Fixed: "1.6.3 (containerd#6801)", Links: []Link{{Title: "containerd/containerd#6772", URL: "https://github.com/containerd/containerd/issues/6772"}}}
	r.Verdict.Component, r.Verdict.Version = "containerd", "v1.6.2"
	r.Verdict.Reason = "runc:[2:INIT] (pid 51234) waits on exec.fifo for 30 s while task Create holds the namespace lock and a metrics scrape waits for the collector lock"
	r.Findings = []Finding{{Detector: "execfifo", Kind: "exec-fifo-stall", Summary: "runc init (pid 51234) has waited 30 s on exec.fifo: containerd never started the task",
		Reasons: []string{"comm is runc:[2:INIT]", "wchan wait_for_partner on /run/relapse/x/containerd/io.containerd.runtime.v2.task/default/t-0142/exec.fifo",
			"goroutine 1312 [sync.Mutex.Lock, 2 minutes]: github.com/containerd/containerd/metrics/cgroups/v1.(*collector).Add(0xc0003a2b40, {0x55d5c1e0c8a8, 0xc000b3e000}, {0xc0009e4f00, 0x7})",
			"goroutine 977 [sync.RWMutex.RLock, 2 minutes]: github.com/containerd/containerd/runtime/v2.(*TaskManager).Create"},
		At: at(40), OnsetAt: at(10), Samples: 30,
		Processes: []evidence.ProcessSnapshot{{Process: evidence.Process{PID: 51234, PPID: 51200, Comm: "runc:[2:INIT]", State: "S", Wchan: "wait_for_partner"},
			Syscall: evidence.Syscall{Number: 257, Name: "openat", Args: []uint64{0xffffff9c, 0xc000020, 0x80000, 0, 0, 0}},
			FDs:     []evidence.FD{{Num: 4, Target: "/run/relapse/20261206T080000Z/containerd/io.containerd.runtime.v2.task/default/t-0142/exec.fifo", Access: "w"}}}}}}
	r.Evidence = append(r.Evidence, Block{Title: "containerd goroutine dump: waiting for the collector lock (metrics scrape)",
		Text: strings.Repeat("goroutine 1312 [sync.Mutex.Lock, 2 minutes]:\nsync.runtime_SemacquireMutex(0xc0003a2b44, 0x0, 0x1)\n\t/usr/local/go/src/runtime/sema.go:71 +0x25\n", 30)})
	return r
}

func extraSandbox() *Report {
	r := notReproducedReport()
	r.RunID = "20261206T081500Z-kubernetes-extra-sandbox-1.19.3-kind-netns-lookup"
	r.Scenario = "kubernetes-extra-sandbox"
	r.Node, r.Provider, r.Variant = "relapse-kind-control-plane", "kind", "cluster=kind cni=netns-lookup"
	r.Bug = Bug{ID: "kubernetes#92613", Fix: "kubernetes#92614", Title: "extra sandbox for completed OnFailure pods", Component: "kubernetes", Affected: ">= 1.18.0, < 1.19.4", Fixed: "1.19.4"}
	r.Verdict = Verdict{Result: Reproduced, Component: "kubernetes", Version: "v1.19.3", Cause: CauseEvidence, Rate: NewRate(1, 1), Expected: Reproduced, Matches: true,
		Reason: "12 of 60 completed pods got a second sandbox and an extra CNI ADD; 12 IPs leaked (held for sandboxes that are not ready)"}
	r.NodeSetup = []Fact{{"kind", "kind v0.23.0 go1.26.8 linux/amd64"}, {"node image", "relapse/kind-node:v1.19.3-debootstrap-bookworm@sha256:" + strings.Repeat("ab", 32)}}
	r.Findings = []Finding{{Detector: "extrasandbox", Kind: "extra-sandbox-for-completed-pod", Summary: "12 completed pods have a second sandbox; 12 IPs leaked (held for sandboxes that are not ready)",
		Reasons: []string{"pod default/job-17-x8k2p completed at 08:16:01 and got sandbox 4f1e… at 08:16:03", "CNI ADD for 4f1e… after the pod completed", "host-local holds 10.244.0.37 for 4f1e…",
			"pod default/job-18-q2m9d completed at 08:17:01 and got sandbox 9a0b… at 08:17:02", "CNI ADD for 9a0b… after the pod completed", "host-local holds 10.244.0.41 for 9a0b…", "and 10 more pods alike"},
		At: at(300), OnsetAt: at(120), Samples: 60}}
	r.Attempts = nil
	return r
}

func plegNotHealthy() *Report {
	r := extraSandbox()
	r.RunID = "20261206T083000Z-pleg-not-healthy-1.30.14"
	r.Scenario = "pleg-not-healthy"
	r.Bug = Bug{ID: "kubernetes#45419", Title: "PLEG is not healthy: the node goes NotReady while relists are slow", Component: "kubernetes"}
	r.Verdict.Version = "v1.30.14"
	r.Verdict.Reason = "node NotReady for 3m12s (PLEG is not healthy: pleg was last seen active 3m0.2s ago; threshold is 3m0s) while ListPodSandbox and ListContainers were held"
	r.Findings = []Finding{{Detector: "nodeready", Kind: "node-not-ready-window", Summary: "node NotReady for 3m12s: PLEG is not healthy",
		Reasons: []string{"Ready=False at 08:33:04 with message \"PLEG is not healthy: pleg was last seen active 3m0.2s ago; threshold is 3m0s\"", "Ready=True again at 08:36:16"},
		At:      at(400), OnsetAt: at(200)}}
	r.Timeline = []Step{{At: at(0), Name: "CRI stall begins", Detail: "holding ListPodSandbox,ListContainers for 4m0s"},
		{At: at(200), Name: "node NotReady", Detail: "PLEG is not healthy: pleg was last seen active 3m0.2s ago; threshold is 3m0s", Seconds: 192, Status: "failed"},
		{At: at(240), Name: "CRI stall ends", Detail: "held calls released"}, {At: at(392), Name: "node Ready again"}}
	return r
}

func systemdCookie() *Report {
	r := notReproducedReport()
	r.RunID = "20261206T090000Z-systemd-cookie-overrun-252-qemu"
	r.Scenario, r.Node, r.Provider = "systemd-cookie-overrun", "qemu-7f3a", "qemu"
	r.Bug = Bug{ID: "systemd#11809", Fix: "systemd#11818", Title: "PID 1's D-Bus cookie overruns 0xffffffff and PID 1 stops answering", Component: "systemd", Affected: "< 242", Fixed: "242"}
	r.Verdict = Verdict{Result: Inconclusive, Component: "systemd", Version: "252.39-1~deb12u2+relapse.revert-11818", Cause: CauseUndecided, Expected: Reproduced,
		Reason: "PID 1 dropped its API bus connection and connected again after the overrun: 252's sd-bus closes a connection whose processing fails"}
	r.Observed = map[string]string{"systemd": "252.39-1~deb12u2+relapse.revert-11818"}
	r.Changes = []Change{{Kind: "pid1-memory", Target: "PID 1 bus cookie", Before: "0x1a2b", Applied: "0xfffffff0", After: "0x80000003", AppliedAt: at(10), Disposable: true}}
	r.Conditions = []Fact{{"PID 1's bus cookie", "moved from 0x1a2b to 0xfffffff0; wrapped to 0x80000000 after 16 calls"}}
	r.Evidence = []Block{{Title: "D-Bus probe", Text: strings.Repeat("serial 4294967281 (0xfffffff1)\n", 15) + "4294967295 (0xffffffff)"}}
	r.Attempts = []Attempt{{N: 1, Label: "runc --systemd-cgroup run before the wrap", Outcome: "started", Seconds: 0.5}, {N: 2, Label: "runc --systemd-cgroup run after the wrap", Outcome: "started", Seconds: 0.6}}
	return r
}

func errnoRet() *Report {
	r := coldBuild()
	r.RunID = "20261206T091500Z-runc-seccomp-errnoret-rc91-podman"
	r.Scenario, r.Variant = "runc-seccomp-errnoret", "engine=podman"
	r.Bug = Bug{ID: "cri-o#4491", Fix: "runc#2424", Title: "runc ignores seccomp errnoRet and cannot load a profile with a clone3 -> ENOSYS rule", Component: "runc", Affected: "< 1.0.0-rc91", Fixed: "1.0.0-rc91"}
	r.Verdict.Reason = "podman run failed: the profile's socket rule (errnoRet 22) equals the default action once errnoRet is ignored, and libseccomp refuses it"
	r.Stack = []Fact{{"podman", "podman version 4.3.1"}, {"conmon", "conmon version 2.1.6, commit: unknown"}}
	r.Findings = []Finding{{Detector: "errnoret", Kind: "seccomp-errnoret-ignored", Summary: "runc ignored the socket rule's errnoRet 22: seccomp_rule_add failed with EEXIST (the rule equals the default action)",
		Reasons: []string{"podman run exited 126", "conmon log: error adding seccomp filter rule for syscall socket: requested action matches default action of filter"}, At: at(5), OnsetAt: at(4.9)}}
	r.Attempts = []Attempt{{N: 0, Label: "control: the profile without the errnoRet rule", Container: "relapse-rc91-0", Outcome: "started", Seconds: 0.9, InitOutput: `{"clone3":1,"socket":0}`},
		{N: 1, Container: "relapse-rc91-1", Outcome: "failed: error adding seccomp filter rule for syscall socket: requested action matches default action of filter: OCI runtime error", Seconds: 0.7}}
	return r
}

// racyKitBug is CVE-2021-30465 on its first fixed release as make
// test-slow saw it: three repetitions of a control and 100 victims under
// the exchange, runc's long error chains with the run's paths, an
// unexpected INCONCLUSIVE (the mismatch box above the glance). The glance
// once listed the first 8 raw attempts and ended 1273-1370 px down.
func racyKitBug() *Report {
	r := notReproducedReport()
	r.RunID = "20261206T124421-cve-2021-30465-runc-1.0.0-rc95-ea4ac2"
	r.Scenario = "cve-2021-30465"
	r.Bug = Bug{ID: "CVE-2021-30465", Fix: "runc 0ca91f44f166", Component: "runc", Affected: "< 1.0.0-rc95", Fixed: "1.0.0-rc95 (runc 0ca91f44f166)",
		Title: "runc up to v1.0.0-rc94 follows a bind mount destination swapped for a symlink out of the container's root (symlink-exchange race)"}
	counts := "of 100 starts under 710756 exchanges 0 escaped, 20 started without reaching it, runc's re-check caught 47, 33 raced in the walk before the check, 0 failed otherwise"
	r.Verdict = Verdict{Result: Inconclusive, Component: "runc", Version: "v1.0.0-rc95", Cause: CauseUndecided, Rate: NewRate(0, 2), Expected: NotReproduced, Matches: false,
		ExpectedWhy: "runc 1.0.0-rc95 is outside the affected range < 1.0.0-rc95 (fixed: 1.0.0-rc95 (runc 0ca91f44f166))",
		Sampling:    Sampling{RuleOut: 0.7, Why: "a race of 100 starts a repetition"},
		Reason:      "2 of 3 repetitions ran with the trigger in force and did not reproduce, but 1 could not decide (repetition 3: fewer than half the victims started or were caught by the fix, so an escape had little chance to show: " + counts + "): every repetition must be shown clean"}
	seen := `{"ok":true,"pid":1,"no_new_privs":false,"cap_eff":"00000000a80425fb","pipe_size":65536,"reads":{"/shared/view/cve-2021-30465":"error: no such file or directory"},"cwd":"/"}`
	r.Attempts = nil
	for rep := 1; rep <= 3; rep++ {
		r.Repetitions = append(r.Repetitions, Repetition{N: rep, Result: NotReproduced, Reason: "no victim read the marker: " + counts, Seconds: 12})
		r.Attempts = append(r.Attempts, Attempt{Repetition: rep, Label: "control: the victim without the attacker", Outcome: "started and ran; a pipe made inside the container holds 65536 bytes", InitOutput: seen})
		for n := 1; n <= 100; n++ {
			a := Attempt{Repetition: rep, N: n, Label: "victim, the exchange running", Outcome: "started and ran; a pipe made inside the container holds 65536 bytes", InitOutput: seen}
			if n%3 == 0 {
				a.Outcome, a.InitOutput = fmt.Sprintf(`runc run failed: container_linux.go:380: starting container process caused: process_linux.go:545: container init caused: rootfs_linux.go:76: mounting "/run/relapse/run/ea4ac2-7yhsix6a/r%d/volumes/second" to rootfs at "/shared/mnt" caused: mount through procfd: possibly malicious path detected -- refusing to operate on /run/relapse/run/ea4ac2-7yhsix6a/r%d/rootfs/shared/mnt-tmp`, rep, rep), ""
			}
			r.Attempts = append(r.Attempts, a)
		}
	}
	r.Repetitions[2].Result, r.Repetitions[2].Reason = Inconclusive, "fewer than half the victims started or were caught by the fix, so an escape had little chance to show: "+counts
	return r
}

// The corpus must keep what makes pages hard: the cold build's legend
// note, a chart with events left out, a long step name, a killed step.
func TestPageCorpusCoversTheHardCases(t *testing.T) {
	found := map[string]bool{}
	for _, c := range pageCorpus() {
		ch := newChart(c.r, origin(c.r))
		found["aside"] = found["aside"] || ch.Aside != ""
		found["omitted"] = found["omitted"] || ch.Omitted > 0
		found["interrupted"] = found["interrupted"] || c.r.Interrupted != ""
		for _, s := range c.r.Timeline {
			found["long step"] = found["long step"] || len(s.Name) > 60
			found["killed"] = found["killed"] || s.Status == StatusKilled
		}
		found["repetitions"] = found["repetitions"] || len(c.r.Repetitions) >= 30
	}
	for _, k := range []string{"aside", "omitted", "interrupted", "long step", "killed", "repetitions"} {
		if !found[k] {
			t.Errorf("no page in the corpus has %s", k)
		}
	}
}

// Every label of the chart fits its column by the width estimate, and no
// note is placed over the labels or past the chart's right edge.
func TestChartTextStaysInItsPlace(t *testing.T) {
	for _, c := range pageCorpus() {
		ch := newChart(c.r, origin(c.r))
		for _, row := range ch.Rows {
			if w := textWidth(row.Label, chartLabelPx); w > float64(ch.LabelRight) {
				t.Errorf("%s: label %q estimated %.0f px, the column holds %d", c.name, row.Label, w, ch.LabelRight)
			}
			if row.Note == "" {
				continue
			}
			x, w := parseF(t, row.NoteX), textWidth(row.Note, chartNotePx)
			left, right := x, x+w
			if row.NoteAnchor == "end" {
				left, right = x-w, x
			}
			if left < float64(ch.PlotX0) || (right > float64(ch.Width) && row.NoteAnchor == "end") {
				t.Errorf("%s: note %q placed at %.0f..%.0f, outside the plot %d..%d", c.name, row.Note, left, right, ch.PlotX0, ch.Width)
			}
		}
	}
	if got := fitWidth(strings.Repeat("m", 100), chartLabelPx, 100); textWidth(got, chartLabelPx) > 100 || !strings.HasSuffix(got, "…") {
		t.Errorf("fitWidth of 100 m's to 100 px = %q", got)
	}
}

func parseF(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return f
}
