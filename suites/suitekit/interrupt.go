package suitekit

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/run"
)

// InterruptPoint is a moment of a reproducer's run to interrupt: once
// Reached says the script got there (polled every 2 ms with the script's
// directory and output so far), the signal goes a random delay in
// [After, Within] later.
type InterruptPoint struct {
	Name          string
	Reached       func(dir, output string) bool
	After, Within time.Duration
}

// InterruptTest drives a portable reproducer through interrupts at random
// points and compares the host before and after each.
type InterruptTest struct {
	// Script is the reproduce.sh a report shipped; Env what a maintainer
	// gives it (RUNC=..., CONTAINERD_BIN=...).
	Script string
	Env    []string
	Points []InterruptPoint
	Trials int
	// Sysctl is the kernel parameter the script changes.
	Sysctl string
	// Marks are strings in a process's arguments that make it the
	// script's: the paths of the binaries' private copies.
	Marks []string
	// CgroupPrefix and NetnsPrefix begin the names of the cgroups and
	// network namespaces the script makes (their names end in its pid); a
	// process in such a cgroup is the script's.
	CgroupPrefix, NetnsPrefix string
	// Bound is the most one trial may take, start to exit.
	Bound time.Duration
}

// interruptModes are how a maintainer interrupts: Ctrl-C once, Ctrl-C
// twice 20-40 ms apart, and Ctrl-C on `timeout 120 sh reproduce.sh`,
// where the terminal signals timeout and the script and timeout then
// signals the script again. The terminal signals the foreground process
// group: the trials signal the script's.
var interruptModes = []string{"single INT", "double INT", "INT through timeout"}

// RunInterrupts runs the trials (seeded from RELAPSE_INTERRUPT_SEED, or
// the clock; the seed is printed and attached to the spec) holding the
// host lock, and fails naming every trial that left the host or the
// directory otherwise than it found them.
func RunInterrupts(ctx context.Context, it InterruptTest) {
	GinkgoHelper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RELAPSE_INTERRUPT_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "RELAPSE_INTERRUPT_SEED=%q: want an unsigned integer", s)
	}
	GinkgoWriter.Printf("interrupt trials: seed %d (rerun with RELAPSE_INTERRUPT_SEED=%d)\n", seed, seed)
	AddReportEntry("interrupt seed", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	// The script changes a global kernel parameter: no relapse run may
	// change the host meanwhile.
	lock, err := run.AcquireHost(ctx, run.StateDir(), true, 15*time.Minute)
	Expect(err).NotTo(HaveOccurred())
	defer lock.Unlock()

	var failed []string
	for n := 1; n <= it.Trials; n++ {
		point := it.Points[(n-1)%len(it.Points)]
		delay := point.After + time.Duration(rng.Int64N(int64(point.Within-point.After)+1))
		mode := interruptModes[rng.IntN(len(interruptModes))]
		gap := 20*time.Millisecond + time.Duration(rng.Int64N(int64(20*time.Millisecond)+1))
		line, ok := it.trial(ctx, n, point, delay, mode, gap)
		GinkgoWriter.Println(line)
		if !ok {
			failed = append(failed, line)
		}
	}
	Expect(failed).To(BeEmpty(), "%d of %d interrupted runs left the host or the directory changed (seed %d)", len(failed), it.Trials, seed)
}

// hostState is what a reproducer must leave as it found it.
type hostState struct {
	sysctl, processes, mounts, netns, cgroups, files string
}

func (it InterruptTest) state(dir string) hostState {
	v, _ := os.ReadFile(node.SysctlPath(it.Sysctl))
	s := hostState{sysctl: strings.TrimSpace(string(v)), processes: strings.Join(it.processes(dir), "; ")}
	if info, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		var lines []string
		for _, l := range strings.Split(string(info), "\n") {
			if strings.Contains(l, dir) || (it.NetnsPrefix != "" && strings.Contains(l, "/run/netns/"+it.NetnsPrefix)) {
				lines = append(lines, l)
			}
		}
		s.mounts = strings.Join(lines, "\n")
	}
	if it.NetnsPrefix != "" {
		ns, _ := filepath.Glob("/run/netns/" + it.NetnsPrefix + "*")
		s.netns = strings.Join(ns, " ")
	}
	if it.CgroupPrefix != "" {
		cg, _ := filepath.Glob("/sys/fs/cgroup/*/" + it.CgroupPrefix + "*")
		top, _ := filepath.Glob("/sys/fs/cgroup/" + it.CgroupPrefix + "*")
		s.cgroups = strings.Join(append(cg, top...), " ")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	s.files = strings.Join(names, " ")
	return s
}

// processes lists, as "pid comm args", the live processes that are the
// script's by /proc: arguments, root or working directory in dir, or a
// mark in the arguments or the cgroup; and every runc init (one from
// elsewhere is in the state before, so only a new one differs).
func (it InterruptTest) processes(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		p := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(p, "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) == 0 || fields[0] == "Z" {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(p, "comm"))
		args, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		cgroup, _ := os.ReadFile(filepath.Join(p, "cgroup"))
		root, _ := os.Readlink(filepath.Join(p, "root"))
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		mine := strings.Contains(string(args), dir) || strings.HasPrefix(root, dir+"/") || strings.HasPrefix(cwd, dir+"/") ||
			strings.HasPrefix(strings.TrimSpace(string(comm)), "runc:[") ||
			(it.CgroupPrefix != "" && strings.Contains(string(cgroup), ":/"+it.CgroupPrefix))
		for _, m := range it.Marks {
			mine = mine || strings.Contains(string(args), m)
		}
		if mine {
			out = append(out, fmt.Sprintf("%s %s %s", e.Name(), strings.TrimSpace(string(comm)), strings.ReplaceAll(string(args), "\x00", " ")))
		}
	}
	sort.Strings(out)
	return out
}

// lockedBuffer is the script's output, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// trial runs the script once in a fresh directory, interrupts it, and says
// what happened and whether the host and the directory are as before.
func (it InterruptTest) trial(ctx context.Context, n int, point InterruptPoint, delay time.Duration, mode string, gap time.Duration) (string, bool) {
	dir, err := os.MkdirTemp(GinkgoT().TempDir(), "repro-")
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "reproduce.sh"), []byte(it.Script), 0o755)).To(Succeed())
	before := it.state(dir)
	what := fmt.Sprintf("trial %d: %s +%s, %s", n, point.Name, delay.Round(time.Millisecond), mode)
	if mode == "double INT" {
		what += fmt.Sprintf(" %s apart", gap.Round(time.Millisecond))
	}

	tctx, cancel := context.WithTimeout(ctx, it.Bound)
	defer cancel()
	args := []string{"sh", "reproduce.sh"}
	if mode == "INT through timeout" {
		args = append([]string{"timeout", "120"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, it.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A process the script leaked may hold its output open: Wait gives up
	// on the output 5 s after the script exits (the leak is then found below).
	cmd.WaitDelay = 5 * time.Second
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	Expect(cmd.Start()).To(Succeed())
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var exitErr error
	exited, signalled := false, false
	poll := time.NewTicker(2 * time.Millisecond)
	defer poll.Stop()
	var fireAt <-chan time.Time
wait:
	for {
		select {
		case exitErr = <-done:
			exited = true
			break wait
		case <-tctx.Done():
			break wait
		case <-fireAt:
			fireAt = nil
			signalled = true
			_ = syscall.Kill(-pgid, syscall.SIGINT)
			if mode == "double INT" {
				time.Sleep(gap)
				_ = syscall.Kill(-pgid, syscall.SIGINT)
			}
		case <-poll.C:
			if fireAt == nil && !signalled && point.Reached(dir, out.String()) {
				fireAt = time.After(delay)
			}
		}
	}
	if !exited {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		it.repair(before, dir)
		return fmt.Sprintf("%s: FAILED: the script did not exit within %s (killed)\n%s", what, it.Bound, out.String()), false
	}
	code := 0
	if ee, ok := exitErr.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if !signalled {
		what += " (the script exited before the signal)"
	}
	after := it.state(dir)
	var diffs []string
	for _, d := range []struct{ name, before, after string }{
		{it.Sysctl, before.sysctl, after.sysctl}, {"the script's processes", before.processes, after.processes},
		{"mounts", before.mounts, after.mounts}, {"network namespaces", before.netns, after.netns},
		{"cgroups", before.cgroups, after.cgroups}, {"the directory", before.files, after.files},
	} {
		if d.before != d.after {
			diffs = append(diffs, fmt.Sprintf("%s: before %q, after %q", d.name, d.before, d.after))
		}
	}
	if len(diffs) > 0 {
		it.repair(before, dir)
		return fmt.Sprintf("%s: exit %d: FAILED: %s\n%s", what, code, strings.Join(diffs, "; "), out.String()), false
	}
	return fmt.Sprintf("%s: exit %d, host and directory as before", what, code), true
}

// repair puts back what a failed trial left, so that later trials and the
// suite's host check see the host as it was: the sysctl, and the script's
// processes killed.
func (it InterruptTest) repair(before hostState, dir string) {
	_ = os.WriteFile(node.SysctlPath(it.Sysctl), []byte(before.sysctl+"\n"), 0o644)
	for _, p := range it.processes(dir) {
		if pid, err := strconv.Atoi(strings.Fields(p)[0]); err == nil && !strings.Contains(before.processes, p) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
