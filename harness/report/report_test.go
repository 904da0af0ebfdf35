package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/versions"
)

const (
	issueURL   = "https://github.com/opencontainers/runc/issues/2828"
	releaseURL = "https://github.com/opencontainers/runc/releases/tag/v1.0.0-rc94"
	rc93Sum    = "h1:tLhyJOVKTGM3dbfUBfeSCb3R5iMq/5aSaY2BXnD6HIk="
	rc94Sum    = "h1:iFlAmiEVCPcSRUg5XlJ2zLmZIVTCTMJMOgOFC4WO0PU="
	injected   = `<script>alert("pwned")</script>`
)

var t0 = time.Date(2024, 5, 14, 9, 30, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func bug() Bug {
	return Bug{
		ID:        "runc#2828",
		Title:     "runc init hangs writing a large seccomp filter into a small pipe",
		Summary:   "runc 1.0.0-rc93 exports the compiled seccomp filter through a pipe it reads only after the write returns; when the pipe is smaller than the filter, runc init blocks forever.",
		Links:     []Link{{Title: "opencontainers/runc#2828", URL: issueURL}, {Title: "runc v1.0.0-rc94", URL: releaseURL}},
		Component: "runc",
		Affected:  ">= 1.0.0-rc93, < 1.0.0-rc94",
		Fixed:     "1.0.0-rc94",
	}
}

func runcArtifact(version, sum string, cached bool) versions.Artifact {
	return versions.Artifact{
		Resolved: versions.Resolved{Component: "runc", Module: "github.com/opencontainers/runc",
			Requested: strings.TrimPrefix(version, "v"), Version: version, Sum: sum},
		Path:         "/root/.cache/relapse/builds/runc/" + version + "_go1.26.8_seccomp/runc",
		GoVersion:    "go1.26.8",
		Tags:         []string{"seccomp"},
		CacheKey:     version + "_go1.26.8_seccomp",
		Cached:       cached,
		BuildSeconds: 41.372,
		BuiltAt:      at(-3600),
		BuildCommand: "GOTOOLCHAIN=local CGO_ENABLED=1 go install -tags seccomp -ldflags '-X main.version=" + strings.TrimPrefix(version, "v") + "' github.com/opencontainers/runc@" + version,
	}
}

func host() evidence.HostFacts {
	return evidence.HostFacts{Hostname: "ci-runner-7", Kernel: "6.1.0-21-amd64",
		KernelFull: "Linux version 6.1.0-21-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1 (2024-05-03)",
		Arch:       "x86_64", OS: "Debian GNU/Linux 12 (bookworm)", CPUs: 4, MemTotal: "16365432 kB",
		Libseccomp: "2.5.4", CgroupMode: "v2", PID1: "systemd", CapBndMissing: []string{"CAP_SYS_RESOURCE"}}
}

func initSnapshot() evidence.ProcessSnapshot {
	return evidence.ProcessSnapshot{
		Process: evidence.Process{PID: 4242, PPID: 4230, Comm: "runc:[2:INIT]",
			Cmdline: []string{"runc", "init"}, State: "S", Wchan: "anon_pipe_write", Started: at(1.9)},
		Taken: at(4.2), UID: 0, Threads: 7, NoNewPrivs: true, CapEff: "00000000a80425fb",
		CapEffNames: []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
			"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW",
			"CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"},
		Seccomp: 0,
		Stack: []string{"anon_pipe_write+0x2f6/0x5a0", "vfs_write+0x36e/0x3f0", "ksys_write+0x6f/0xf0",
			"do_syscall_64+0x55/0x90", "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"},
		Syscall: evidence.Syscall{Number: 1, Name: "write", Args: []uint64{6, 0xf0d20b0, 13080, 0, 0, 0},
			Raw: "1 0x6 0xf0d20b0 0x3318 0x0 0x0 0x0 0x7ffd8c5e1a28 0x4a1b2e"},
		FDs: []evidence.FD{
			{Num: 0, Target: "/dev/null", Access: "r"},
			{Num: 1, Target: "pipe:[11020]", Access: "w", PipeInode: 11020, PipeSize: 65536},
			{Num: 2, Target: "pipe:[11021]", Access: "w", PipeInode: 11021, PipeSize: 65536},
			{Num: 3, Target: "socket:[11017]", Access: "rw"},
			{Num: 4, Target: "anon_inode:[eventpoll]", Access: "rw"},
			{Num: 5, Target: "pipe:[11045]", Access: "r", PipeInode: 11045, PipeSize: 8192, PipeQueued: 8192},
			{Num: 6, Target: "pipe:[11045]", Access: "w", PipeInode: 11045, PipeSize: 8192, PipeQueued: 8192},
		},
	}
}

func parentSnapshot() evidence.ProcessSnapshot {
	return evidence.ProcessSnapshot{
		Process: evidence.Process{PID: 4230, PPID: 4101, Comm: "runc",
			Cmdline: []string{"/root/.cache/relapse/builds/runc/v1.0.0-rc93_go1.26.8_seccomp/runc", "--root", "/run/relapse/runc", "run", "relapse-rc93-1"},
			State:   "S", Wchan: "unix_stream_read_generic", Started: at(1.8)},
		Taken: at(4.25), Threads: 8, CapEff: "000001ffffffffff", Seccomp: 0,
		StackError: "open /proc/4230/stack: permission denied",
		Syscall:    evidence.Syscall{Number: 0, Name: "read", Args: []uint64{3, 0xc0001a6000, 4096, 0, 0, 0}, Raw: "0 0x3 0xc0001a6000 0x1000 0x0 0x0 0x0 0x7ffe 0x4"},
		FDs: []evidence.FD{
			{Num: 0, Target: "/dev/null", Access: "r"},
			{Num: 3, Target: "socket:[11016]", Access: "rw"},
		},
	}
}

func reproducedReport() *Report {
	return &Report{
		SchemaVersion: SchemaVersion,
		RunID:         "20240514T093000Z-rc93-a1b2",
		Scenario:      "runc-pipe-hang",
		Bug:           bug(),
		Verdict: Verdict{Result: Reproduced, Component: "runc", Version: "v1.0.0-rc93", Cause: CauseEvidence, Rate: NewRate(1, 1),
			Reason:      "runc:[2:INIT] (pid 4242) blocked in write(2) of 13080 bytes into a full 8192-byte pipe whose only read end it holds itself",
			Expected:    Reproduced,
			ExpectedWhy: "1.0.0-rc93 is within >= 1.0.0-rc93, < 1.0.0-rc94",
			Matches:     true},
		Started:       t0,
		Finished:      at(9.5),
		TimeToVerdict: 4.35,
		Node:          "local",
		Provider:      "local",
		Invocation:    "relapse run runc-pipe-hang --runc 1.0.0-rc93 --attempts 1",
		Host:          host(),
		Components:    []versions.Artifact{runcArtifact("v1.0.0-rc93", rc93Sum, true)},
		Parameters:    []Fact{{"seccomp profile", "docker default + 300 extra rules"}, {"fs.pipe-user-pages-soft", "1"}, {"attempts", "1"}},
		Conditions:    []Fact{{"compiled filter size", "13080 bytes (1635 instructions)"}, {"pipe capacity in container", "8192 bytes"}},
		Changes: []Change{{Kind: "sysctl", Target: "fs.pipe-user-pages-soft", Before: "16384", Applied: "1", After: "16384",
			AppliedAt: at(0.4), RestoredAt: at(9.3), Restored: true}},
		Timeline: []Step{
			{At: at(0), Name: "start", Detail: "run 20240514T093000Z-rc93-a1b2"},
			{At: at(0.05), Name: "resolve runc", Detail: "v1.0.0-rc93 " + rc93Sum, Command: "go mod download -json github.com/opencontainers/runc@v1.0.0-rc93", Seconds: 0.21, Status: "ok"},
			{At: at(0.3), Name: "build runc", Detail: "cached", Seconds: 0.02, Status: "ok"},
			{At: at(0.4), Name: "set sysctl", Detail: "fs.pipe-user-pages-soft 16384 → 1", Command: "sysctl -w fs.pipe-user-pages-soft=1", Seconds: 0.01, Status: "ok"},
			{At: at(1.7), Name: "attempt 1: runc run", Command: "runc --root /run/relapse/runc run -d relapse-rc93-1", Seconds: 3.0, Status: "timeout"},
			{At: at(2.15), Name: "onset", Detail: "pid 4242 seen in anon_pipe_write"},
			{At: at(4.3), Name: "finding", Detail: "runc-init-pipe-write-deadlock"},
			{At: at(4.35), Name: "verdict", Detail: "REPRODUCED"},
			{At: at(4.7), Name: "cleanup", Detail: "kill and delete container", Command: "runc delete -f relapse-rc93-1", Seconds: 4.5, Status: "ok"},
			{At: at(9.3), Name: "restore sysctl", Command: "sysctl -w fs.pipe-user-pages-soft=16384", Seconds: 0.01, Status: "ok"},
		},
		Attempts: []Attempt{{N: 1, Container: "relapse-rc93-1", Outcome: "hung in runc init", Seconds: 3.0}},
		Findings: []Finding{{
			Detector: "runcinit-pipe",
			Kind:     "runc-init-pipe-write-deadlock",
			Summary:  "runc init (pid 4242) is blocked writing 13080 bytes of seccomp BPF into an 8192-byte pipe that only it can read",
			Reasons: []string{
				"comm is runc:[2:INIT]",
				"state S, wchan anon_pipe_write, in write(2) on fd 6",
				"fd 6 is pipe:[11045] of 8192 bytes with 8192 queued",
				"the same process holds the read end fd 5",
				"no progress over 3 samples 1s apart",
			},
			At:        at(4.3),
			OnsetAt:   at(2.15),
			Samples:   3,
			Processes: []evidence.ProcessSnapshot{initSnapshot(), parentSnapshot()},
		}},
		Evidence: []Block{
			{Title: "runc --version", Text: "runc version 1.0.0-rc93\ncommit: module-v1.0.0-rc93\nspec: 1.0.2-dev\ngo: go1.26.8\nlibseccomp: 2.5.4"},
			{Title: "container log " + injected, Text: "level=debug msg=\"nsexec started\"\n" + injected + "\n"},
			{Title: "ps -eo pid,ppid,stat,wchan:32,comm", Text: strings.Repeat("4242 4230 Sl anon_pipe_write runc:[2:INIT]\n", 40)},
		},
		Reproduce: "#!/bin/sh\nset -eu\nsysctl -w fs.pipe-user-pages-soft=1\ngo install -tags seccomp github.com/opencontainers/runc@v1.0.0-rc93\nrunc run -d relapse-rc93-1 # hangs in runc init\n",
		Files:     []File{{Name: "config.json", Path: "files/config.json", Description: "OCI spec used"}, {Name: "seccomp.bpf", Path: "files/seccomp.bpf", Description: "compiled filter (13080 bytes)"}},
		Errors:    []string{"reading /proc/4230/stack: permission denied"},
	}
}

func notReproducedReport() *Report {
	r := reproducedReport()
	r.RunID = "20240514T094000Z-rc94-c3d4"
	r.Components = []versions.Artifact{runcArtifact("v1.0.0-rc94", rc94Sum, false)}
	r.Verdict = Verdict{Result: NotReproduced, Component: "runc", Version: "v1.0.0-rc94", Cause: CauseEvidence, Rate: NewRate(0, 1), Reason: "the container started in 0.41 s in all 1 attempts",
		Expected: NotReproduced, ExpectedWhy: "1.0.0-rc94 is outside >= 1.0.0-rc93, < 1.0.0-rc94", Matches: true}
	r.Findings = nil
	r.Attempts = []Attempt{{N: 1, Container: "relapse-rc94-1", Outcome: "started", Seconds: 0.41, InitOutput: "relapse-init: ok"}}
	r.Errors = nil
	r.Evidence = r.Evidence[:1]
	return r
}

func mismatchReport() *Report {
	r := notReproducedReport()
	r.RunID = "20240514T095000Z-rc93-e5f6"
	r.Components = []versions.Artifact{runcArtifact("v1.0.0-rc93", rc93Sum, true)}
	r.Verdict = Verdict{Result: NotReproduced, Component: "runc", Version: "v1.0.0-rc93", Cause: CauseEvidence, Rate: NewRate(0, 1), Reason: "the container started in 0.39 s in all 1 attempts",
		Expected: Reproduced, ExpectedWhy: "1.0.0-rc93 is within >= 1.0.0-rc93, < 1.0.0-rc94", Matches: false}
	r.Changes[0].Restored = false
	r.Changes[0].RestoredAt = time.Time{}
	r.Changes[0].After = "1"
	r.Changes[0].RestoreNote = "sysctl -w failed: permission denied"
	return r
}

func inconclusiveReport() *Report {
	r := notReproducedReport()
	r.RunID = "20240514T096000Z-rc93-0000"
	r.Verdict = Verdict{Result: Inconclusive, Component: "runc", Version: "v1.0.0-rc94", Cause: CauseMissing, Reason: "requirements missing", Expected: Reproduced,
		Missing: []string{"CAP_SYS_RESOURCE is not in the bounding set"}}
	return r
}

func render(t *testing.T, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := RenderHTML(&buf, r); err != nil {
		t.Fatalf("RenderHTML: %v", err)
	}
	return buf.String()
}

func TestHTML(t *testing.T) {
	tests := []struct {
		name    string
		report  *Report
		want    []string
		notWant []string
	}{
		{
			name:   "reproduced rc93",
			report: reproducedReport(),
			want: []string{
				`<span class="badge repro" id="verdict">REPRODUCED</span>`,
				"Blocked writing 13080 bytes into an 8192-byte pipe",
				"capacity <strong>8192</strong> bytes, <strong>8192</strong> bytes queued unread",
				"This same process also holds fd 5 (r) on this pipe",
				rc93Sum,
				"runc:[2:INIT]",
				"anon_pipe_write",
				"0xf0d20b0",
				"252518576", // 0xf0d20b0 in decimal
				"<svg class=\"timeline\"",
				"&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;",
				"All 1 change was restored",
				"unavailable: open /proc/4230/stack: permission denied",
				`href="files/config.json"`,
				`href="` + issueURL + `"`,
				"2024-05-14 09:30:00.000 UTC",
				"2.150 s", // finding latency
				"✔ As expected",
			},
			notWant: []string{injected, `id="mismatch"`, "NOT restored"},
		},
		{
			name:    "not reproduced rc94",
			report:  notReproducedReport(),
			want:    []string{`<span class="badge norepro" id="verdict">NOT REPRODUCED</span>`, rc94Sum, "built in 41.372 s", "relapse-init: ok"},
			notWant: []string{`id="mismatch"`, "Blocked writing"},
		},
		{
			name:   "mismatch",
			report: mismatchReport(),
			want: []string{`id="mismatch"`, "UNEXPECTED RESULT", "expected <strong>REPRODUCED</strong>",
				"1 change to the node was NOT restored", `<tr class="unrestored">`, "sysctl -w failed: permission denied"},
		},
		{
			name:   "inconclusive",
			report: inconclusiveReport(),
			want:   []string{`<span class="badge inconclusive" id="verdict">INCONCLUSIVE</span>`, "Missing requirements", "CAP_SYS_RESOURCE is not in the bounding set"},
		},
		{
			name:   "empty",
			report: &Report{},
			want:   []string{"NO VERDICT", "<td>-</td>", "No findings", "No timeline recorded", "</html>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			html := render(t, tt.report)
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("HTML lacks %q", w)
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(html, nw) {
					t.Errorf("HTML contains %q", nw)
				}
			}
			assertSelfContained(t, html, tt.report)
		})
	}
}

// assertSelfContained checks that the page loads nothing: the only URLs in
// it are the hrefs of the bug's upstream links.
func assertSelfContained(t *testing.T, html string, r *Report) {
	t.Helper()
	rest := html
	for _, l := range r.Bug.Links {
		rest = strings.ReplaceAll(rest, `href="`+l.URL+`"`, `href=""`)
	}
	if m := regexp.MustCompile(`(?i)https?://`).FindAllStringIndex(rest, -1); len(m) > 0 {
		i := m[0][0]
		t.Errorf("HTML has %d URL(s) besides the bug links, first: %q", len(m), rest[max(0, i-40):min(len(rest), i+60)])
	}
	lower := strings.ToLower(html)
	for _, bad := range []string{"<link", "<script src", "<img", "<iframe", "<object", "<embed", "@import", "url(", "//fonts."} {
		if strings.Contains(lower, bad) {
			t.Errorf("HTML refers to an external resource: contains %q", bad)
		}
	}
	if n := strings.Count(lower, "<script"); n > 1 {
		t.Errorf("HTML has %d <script> elements, want at most the one inline", n)
	}
}

func TestHTMLHighlightsBlockedPipe(t *testing.T) {
	page := render(t, reproducedReport())
	i := strings.Index(page, `id="f1-pid4242"`)
	j := strings.Index(page, `id="f1-pid4230"`)
	if i < 0 || j < i {
		t.Fatalf("snapshot sections missing or out of order: %d %d", i, j)
	}
	html, parent := page[i:j], page[j:]
	// fd 5 and fd 6 share pipe:[11045], the pipe the write is blocked on.
	hot := regexp.MustCompile(`(?s)<tr class="fd-hot">\s*<td class="num">(\d+)</td>`).FindAllStringSubmatch(html, -1)
	var got []string
	for _, m := range hot {
		got = append(got, m[1])
	}
	if want := []string{"5", "6"}; !reflect.DeepEqual(got, want) {
		t.Errorf("strongly highlighted fds = %v, want %v", got, want)
	}
	pipes := regexp.MustCompile(`(?s)<tr class="fd-pipe">\s*<td class="num">(\d+)</td>`).FindAllStringSubmatch(html, -1)
	if len(pipes) != 2 {
		t.Errorf("got %d other pipe fds highlighted, want 2 (fds 1 and 2)", len(pipes))
	}
	if !strings.Contains(html, "◀ write(2) is blocked on this fd") {
		t.Error("fd 6 is not marked as the fd of the blocked write")
	}
	// The parent's read is on a socket: that fd is marked, no pipe is.
	if !strings.Contains(parent, "◀ read(2) is blocked on this fd") || strings.Contains(parent, `class="fd-pipe"`) ||
		strings.Contains(parent, `class="fd-hot"`) || !strings.Contains(parent, `class="fd-call"`) {
		t.Error("parent's read fd not marked, or a pipe highlighted in the parent")
	}
}

func TestJUnit(t *testing.T) {
	undecided := notReproducedReport()
	undecided.Verdict = Verdict{Result: Inconclusive, Component: "runc", Version: "v1.0.0-rc94", Cause: CauseUndecided,
		Reason: "1 clean repetition does not rule out a rate of 0.50: 3 more would decide", Expected: NotReproduced}
	setup := notReproducedReport()
	setup.Verdict = Verdict{Result: Inconclusive, Component: "runc", Version: "v1.0.0-rc94", Cause: CauseSetup,
		Reason: "setup failed: building runc failed", Expected: NotReproduced}
	interrupted := notReproducedReport()
	interrupted.Verdict = Verdict{Result: Inconclusive, Component: "runc", Version: "v1.0.0-rc94", Cause: CauseInterrupted,
		Reason: "interrupted: received interrupt before a verdict", Expected: NotReproduced}
	unrestored := notReproducedReport()
	unrestored.Changes[0].Restored, unrestored.Changes[0].After = false, "1"
	variant := reproducedReport()
	variant.Variant = "engine=docker"
	tests := []struct {
		name                         string
		report                       *Report
		failure, errored, skipped    bool
		wantName, wantType, wantText string
	}{
		{"reproduced", reproducedReport(), false, false, false, "runc#2828 runc v1.0.0-rc93", "", ""},
		{"not reproduced", notReproducedReport(), false, false, false, "runc#2828 runc v1.0.0-rc94", "", ""},
		{"a verdict that contradicts the range fails", mismatchReport(), true, false, false, "runc#2828 runc v1.0.0-rc93", JUnitContradiction, "got NOT REPRODUCED, expected REPRODUCED"},
		{"missing requirements skip", inconclusiveReport(), false, false, true, "runc#2828 runc v1.0.0-rc94", "", "missing requirements"},
		{"undecided evidence skips, saying what would decide", undecided, false, false, true, "runc#2828 runc v1.0.0-rc94", "", "3 more would decide"},
		{"relapse's own failure is an error", setup, false, true, false, "runc#2828 runc v1.0.0-rc94", JUnitRelapseError, "building runc failed"},
		{"an interrupt is an error", interrupted, false, true, false, "runc#2828 runc v1.0.0-rc94", JUnitInterrupted, "received interrupt"},
		{"a change not put back fails an otherwise good run", unrestored, true, false, false, "runc#2828 runc v1.0.0-rc94", JUnitNotRestored, "was not put back"},
		{"the variant names the case", variant, false, false, false, "runc#2828 runc v1.0.0-rc93 [engine=docker]", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := MarshalJUnit(tt.report)
			if err != nil {
				t.Fatal(err)
			}
			validateJUnit(t, data)
			doc := parseJUnit(t, data)
			if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 1 {
				t.Fatalf("want one suite with one case, got %+v", doc)
			}
			c := doc.Suites[0].Cases[0]
			if c.Name != tt.wantName || c.ClassName != "runc-pipe-hang" {
				t.Errorf("testcase %q/%q, want runc-pipe-hang/%q", c.ClassName, c.Name, tt.wantName)
			}
			if c.Time != junitSeconds(tt.report.TimeToVerdict) {
				t.Errorf("time %q, want %q", c.Time, junitSeconds(tt.report.TimeToVerdict))
			}
			if (c.Failure != nil) != tt.failure || (c.Error != nil) != tt.errored || (c.Skipped != nil) != tt.skipped {
				t.Errorf("failure %+v error %+v skipped %+v; want failure %v error %v skipped %v", c.Failure, c.Error, c.Skipped, tt.failure, tt.errored, tt.skipped)
			}
			var msgs []junitMessage
			for _, m := range []*junitMessage{c.Failure, c.Error, c.Skipped} {
				if m != nil {
					msgs = append(msgs, *m)
				}
			}
			if tt.wantText != "" {
				found := false
				for _, m := range msgs {
					if strings.Contains(m.Message, tt.wantText) && (tt.wantType == "" || m.Type == tt.wantType) {
						found = true
					}
				}
				if !found {
					t.Errorf("no outcome of type %q saying %q in %+v", tt.wantType, tt.wantText, msgs)
				}
			}
			if c.SystemOut == nil || !strings.Contains(c.SystemOut.Text, tt.report.Verdict.Reason) {
				t.Errorf("system-out %+v lacks the verdict reason", c.SystemOut)
			}
			props := map[string]string{}
			for _, p := range c.Properties {
				props[p.Name] = p.Value
			}
			for _, k := range []string{"k", "n", "rate_lo", "rate_hi", "verdict", "bug"} {
				if _, ok := props[k]; !ok {
					t.Errorf("property %s missing: %v", k, props)
				}
			}
		})
	}
}

// validateJUnit checks data against testdata/junit.xsd with xmllint.
func validateJUnit(t *testing.T, data []byte) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatal("xmllint is needed to check junit.xml against the JUnit schema: install Debian's libxml2-utils (make deps)")
	}
	f := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/junit.xsd", f).CombinedOutput(); err != nil {
		t.Fatalf("junit.xml does not validate against the JUnit schema: %v\n%s\n%s", err, out, data)
	}
}

func TestWriteJUnitSuite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "matrix", "junit.xml")
	reports := []*Report{reproducedReport(), notReproducedReport(), mismatchReport()}
	reports[1].Verdict.Reason = "init printed \x1b[31mok\x00 ]]> done" // control characters and a CDATA end
	if err := WriteJUnitSuite(path, reports); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	validateJUnit(t, data)
	doc := parseJUnit(t, data)
	if len(doc.Suites) != 3 || doc.Tests != 3 || doc.Failures != 1 {
		t.Fatalf("suites=%d tests=%d failures=%d, want 3/3/1", len(doc.Suites), doc.Tests, doc.Failures)
	}
	if out := doc.Suites[1].Cases[0].SystemOut; out == nil || !strings.Contains(out.Text, "\uFFFD[31mok\uFFFD ]]> done") {
		t.Errorf("system-out of case 1 = %+v, want the reason with control characters replaced", out)
	}
	for i, s := range doc.Suites {
		if wantFail := i == 2; (s.Cases[0].Failure != nil) != wantFail || (s.Failures == 1) != wantFail {
			t.Errorf("suite %d (%s): failure %v, want %v", i, s.Cases[0].Name, s.Cases[0].Failure, wantFail)
		}
	}
	if out := doc.Suites[0].Cases[0].SystemOut; out == nil || !strings.Contains(out.Text, "reports/"+reports[0].RunID+"/") {
		t.Errorf("system-out lacks a path hint: %+v", out)
	}
}

func parseJUnit(t *testing.T, data []byte) junitSuites {
	t.Helper()
	var doc junitSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, data)
	}
	return doc
}

func TestWriteLoadRoundTrip(t *testing.T) {
	for _, r := range []*Report{reproducedReport(), notReproducedReport(), mismatchReport(), {SchemaVersion: SchemaVersion}} {
		t.Run(r.RunID, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "reports", "run")
			p, err := Write(dir, r)
			if err != nil {
				t.Fatal(err)
			}
			files := []string{p.JSON, p.HTML, p.JUnit, p.Markdown, p.Bundle}
			if r.Reproduce != "" {
				files = append(files, p.Script)
			}
			for _, f := range files {
				if st, err := os.Stat(f); err != nil || st.Size() == 0 {
					t.Errorf("%s not written: %v", f, err)
				}
			}
			for _, path := range []string{p.JSON, p.Dir} {
				got, err := Load(path)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, r) {
					a, _ := EncodeJSON(got)
					b, _ := EncodeJSON(r)
					t.Errorf("Load(%s) differs from what was written:\n got %s\nwant %s", path, a, b)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(files) {
				t.Errorf("report dir holds %d entries, want %d (temporary files left behind?)", len(entries), len(files))
			}
			listed := bundleEntries(t, p.Bundle)
			for _, f := range files {
				if f == p.Bundle {
					continue
				}
				if want := "run/" + filepath.Base(f); !listed[want] {
					t.Errorf("bundle lacks %s (has %v)", want, listed)
				}
			}
		})
	}
}

func TestWriteSetsSchemaVersion(t *testing.T) {
	r := reproducedReport()
	r.SchemaVersion = 0
	p, err := Write(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(p.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != SchemaVersion || r.SchemaVersion != 0 {
		t.Errorf("schema version written %d (want %d), caller's changed to %d", got.SchemaVersion, SchemaVersion, r.SchemaVersion)
	}
}

func TestLoadRejectsOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, []byte(`{"schema_version": 99, "run_id": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("Load of schema 99 = %v, want a schema version error", err)
	}
}

// TestRenderSample writes the sample reports, a reproduced and a mismatch
// one: where RELAPSE_REPORT_SAMPLE says (e.g. /tmp/report-sample.html), to
// look at them in a browser, else into the test's temporary directory.
func TestRenderSample(t *testing.T) {
	path := os.Getenv("RELAPSE_REPORT_SAMPLE")
	if path == "" {
		path = filepath.Join(t.TempDir(), "report-sample.html")
	}
	if err := os.WriteFile(path, []byte(render(t, reproducedReport())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".html")+"-mismatch.html", []byte(render(t, mismatchReport())), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestChartManySteps(t *testing.T) {
	r := reproducedReport()
	r.Finished = time.Time{} // the chart's end then comes from the steps
	var steps []Step
	for i := 0; i < 200; i++ {
		steps = append(steps, Step{At: at(float64(i) * 0.05), Name: "sample"})
	}
	steps = append(steps, Step{At: at(3), Name: "runc run", Seconds: 20, Status: "timeout"})
	r.Timeline = steps
	c := newChart(r, r.Started)
	if len(c.Rows) != chartMaxRows || c.Omitted != len(steps)-chartMaxRows {
		t.Errorf("chart has %d rows, %d omitted; want %d rows, %d omitted", len(c.Rows), c.Omitted, chartMaxRows, len(steps)-chartMaxRows)
	}
	found := false
	for _, row := range c.Rows {
		found = found || (row.Bar && row.Class == "st-timeout")
	}
	if !found {
		t.Error("the timed-out operation was dropped from the chart")
	}
	if c.Span != "23.000 s" {
		t.Errorf("span %q, want 23.000 s (end of the last operation)", c.Span)
	}
	html := render(t, r)
	if !strings.Contains(html, "plain events left out of the chart") {
		t.Error("the page does not say that events were left out")
	}
}

func TestNiceStep(t *testing.T) {
	for raw, want := range map[float64]float64{0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 40: 50, 0: 1} {
		if got := niceStep(raw); math.Abs(got-want) > 1e-9 {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
}

// bundleEntries lists the names in a .tar.gz.
func bundleEntries(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
}
