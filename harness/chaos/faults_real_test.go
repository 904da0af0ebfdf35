package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/privdir"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
)

// helperEnv makes the test binary one of the harmless programs the real
// tests arm faults against (see TestMain).
const helperEnv = "RELAPSE_CHAOS_TEST_HELPER"

// TestMain runs the helper programs: "syscalls" calls getpgid(2) every
// 10 ms and prints how long each call took and its error; "sleep" sleeps;
// "shim" starts a child named "runc init" (as a shim's container init)
// and sleeps; "spawner" starts a sleep every 100 ms and prints its pid. Each ends by itself after a minute, so none outlives a
// failed test.
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "syscalls":
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			start := time.Now()
			_, err := syscall.Getpgid(0)
			fmt.Printf("%d %v\n", time.Since(start).Microseconds(), err)
		}
	case "shim":
		child := helper("sleep", "runc", "init")
		child.Stdout = os.Stdout
		if err := child.Start(); err != nil {
			os.Exit(1)
		}
		fmt.Println(child.Process.Pid)
		go func() { _ = child.Wait() }()
		time.Sleep(time.Minute)
	case "sleep":
		time.Sleep(time.Minute)
	case "spawner":
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			child := exec.Command("sleep", "60")
			child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if child.Start() == nil {
				fmt.Println(child.Process.Pid)
				go func() { _ = child.Wait() }()
			}
		}
	}
	os.Exit(0)
}

// helper is the test binary as helper mode, with argv (its name first).
func helper(mode string, argv ...string) *exec.Cmd {
	self, _ := os.Executable()
	c := exec.Command(self)
	if len(argv) > 0 {
		c.Args = argv
	}
	c.Env = append(os.Environ(), helperEnv+"="+mode)
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return c
}

// startHelper starts a helper, killed when the test ends; lines gets its
// output lines.
func startHelper(t *testing.T, mode string, argv ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	c := helper(mode, argv...)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	lines := make(chan string, 10000)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			select {
			case lines <- s.Text():
			default: // nobody reads: drop
			}
		}
		close(lines)
	}()
	return c, lines
}

// realRun is a run on this host with its own journal and a private run
// directory (in a privdir root of the test's own), torn down after.
func realRun(t *testing.T, tools ...string) *run.Run {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("arming faults on this host (ptrace, kills, run directories) needs root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (ci/deps.sh test installs it): %v", tool, err)
		}
	}
	root, err := os.MkdirTemp("/tmp", "rc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	t.Setenv(privdir.RootEnv, root)
	ctx := context.Background()
	n := local.New()
	id := "chaos-test-" + filepath.Base(root)
	dir := run.NewDir(id)
	if err := run.MakeDir(ctx, n, dir); err != nil {
		t.Fatal(err)
	}
	j, err := run.OpenJournal(t.TempDir(), id)
	if err != nil {
		t.Fatal(err)
	}
	r := &run.Run{ID: id, Node: n, Dir: dir, Journal: j, Ledger: &run.Ledger{}, Report: &report.Report{}}
	t.Cleanup(func() {
		if err := r.RunCleanups(ctx); err != nil {
			t.Errorf("the run's cleanups: %v", err)
		}
		if err := r.Ledger.UndoAll(ctx); err != nil {
			t.Errorf("the run's ledger: %v", err)
		}
	})
	return r
}

// waitLine waits (up to 20 s) for a line of the helper's that ok accepts.
func waitLine(t *testing.T, lines <-chan string, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, open := <-lines:
			if !open {
				t.Fatalf("the helper ended before %s", what)
			}
			if ok(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %s within 20 s", what)
		}
	}
}

// under lists the processes naming dir on their command line (and their
// children): what a fault armed in dir left running.
func under(t *testing.T, dir string) []evidence.Process {
	t.Helper()
	procs, err := local.New().Processes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return evidence.ProcessesUnder(procs, dir)
}

// journaled is how many journal entries the run holds.
func journaled(t *testing.T, r *run.Run) int {
	t.Helper()
	es, err := r.Journal.Entries()
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// selfTarget is a target whose daemon is pid daemon; its Dir does not
// exist yet (the fault makes it).
func selfTarget(r *run.Run, daemon int) Target {
	return Target{Node: r.Node, Dir: filepath.Join(r.Dir, "faults"), Daemon: func(context.Context) (int, error) { return daemon, nil }}
}

// strace-delay on a process: its getpgid calls take at least the delay
// while armed; after Disarm strace is gone, the journal entry forgotten,
// and the process runs on untraced.
func TestStraceDelayReal(t *testing.T) {
	r := realRun(t, "strace")
	ctx := context.Background()
	h, lines := startHelper(t, "syscalls")
	f := StraceFault{On: "daemon", Syscall: "getpgid", Delay: 300 * time.Millisecond, When: "1+"}
	a, err := f.Arm(ctx, r, selfTarget(r, h.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if journaled(t, r) != 1 || len(under(t, r.Dir)) != 1 {
		t.Errorf("armed: %d journal entries and processes %v under the run's directory; want one strace, journaled", journaled(t, r), under(t, r.Dir))
	}
	// A lower bound only: load can make a call slower, never faster.
	waitLine(t, lines, "getpgid call of 300 ms or more", func(l string) bool {
		us, _ := strconv.Atoi(strings.Fields(l)[0])
		return us >= 300000
	})
	if saw := a.Saw(); !strings.HasPrefix(saw, "delayed ") || strings.HasPrefix(saw, "delayed 0 ") || !strings.HasSuffix(saw, "getpgid calls of daemon by 300ms") {
		t.Errorf("Saw = %q", saw)
	}
	if err := a.Disarm(ctx); err != nil {
		t.Fatal(err)
	}
	checkDetached(t, r, h, lines)
}

// ArmOn: the fault on one chosen process, owned as Arm's (one strace,
// journaled), counting the calls it delayed in its log.
func TestStraceArmOnReal(t *testing.T) {
	r := realRun(t, "strace")
	ctx := context.Background()
	h, lines := startHelper(t, "syscalls")
	f := StraceFault{On: "shim", Syscall: "getpgid", Delay: 200 * time.Millisecond, When: "1+"}
	a, err := f.ArmOn(ctx, r, Target{Node: r.Node, Dir: filepath.Join(r.Dir, "faults")}, h.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if journaled(t, r) != 1 || len(under(t, r.Dir)) != 1 {
		t.Errorf("armed: %d journal entries and processes %v under the run's directory; want one strace, journaled", journaled(t, r), under(t, r.Dir))
	}
	waitLine(t, lines, "getpgid call of 200 ms or more", func(l string) bool {
		us, _ := strconv.Atoi(strings.Fields(l)[0])
		return us >= 200000
	})
	if err := a.Disarm(ctx); err != nil {
		t.Fatal(err)
	}
	checkDetached(t, r, h, lines)
	// Every traced call was delayed, but the one disarm may have cut in
	// its delay (strace detaches before it prints the result).
	log, err := os.ReadFile(a.Log())
	traced := strings.Count(string(log), "getpgid(")
	if n := a.Calls(ctx); err != nil || n == 0 || n > traced || n < traced-1 {
		t.Errorf("Calls = %d, want the %d traced getpgid calls of the log or one fewer (%v):\n%s", n, traced, err, log)
	}
	if saw := a.Saw(); !strings.HasSuffix(saw, "getpgid calls of shim by 200ms") {
		t.Errorf("Saw = %q", saw)
	}
	if _, err := f.ArmOn(ctx, r, Target{Node: r.Node, Dir: r.Dir}); err == nil {
		t.Error("ArmOn with no pid armed")
	}
}

// checkDetached: no strace left, nothing journaled, the tracee untraced
// and still running.
func checkDetached(t *testing.T, r *run.Run, h *exec.Cmd, lines <-chan string) {
	t.Helper()
	if left := under(t, r.Dir); len(left) > 0 {
		t.Errorf("processes left under the run's directory after disarm: %v", left)
	}
	if n := journaled(t, r); n != 0 {
		t.Errorf("%d journal entries after disarm, want 0", n)
	}
	tracer, err := TracerPID(context.Background(), Target{Node: r.Node}, h.Process.Pid)
	if err != nil || tracer != 0 {
		t.Errorf("tracee's TracerPid after disarm = %d, %v; want 0", tracer, err)
	}
	for len(lines) > 0 {
		<-lines
	}
	waitLine(t, lines, "getpgid call after disarm", func(string) bool { return true })
}

// strace-error: the call fails with the errno while armed.
func TestStraceErrorReal(t *testing.T) {
	r := realRun(t, "strace")
	ctx := context.Background()
	h, lines := startHelper(t, "syscalls")
	f := StraceFault{On: "daemon", Syscall: "getpgid", Errno: "EIO", When: "1+"}
	a, err := f.Arm(ctx, r, selfTarget(r, h.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	waitLine(t, lines, "getpgid call failing with EIO", func(l string) bool { return strings.HasSuffix(l, syscall.EIO.Error()) })
	if err := a.Disarm(ctx); err != nil {
		t.Fatal(err)
	}
	checkDetached(t, r, h, lines)
	if saw := a.Saw(); !strings.HasPrefix(saw, "failed ") || strings.HasPrefix(saw, "failed 0 ") {
		t.Errorf("Saw = %q", saw)
	}
}

// A run killed with strace attached: the next run's repair stops strace
// (SIGKILL), the kernel detaches the tracee, which runs on.
func TestStraceRepairedAfterAKilledRun(t *testing.T) {
	r := realRun(t, "strace")
	ctx := context.Background()
	h, lines := startHelper(t, "syscalls")
	f := StraceFault{On: "daemon", Syscall: "getpgid", Delay: 100 * time.Millisecond, When: "1+"}
	if _, err := f.Arm(ctx, r, selfTarget(r, h.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	// What the next run does with a dead run's journal.
	done, err := r.Journal.Repair(ctx, nil)
	if err != nil || len(done) != 1 || !strings.Contains(done[0].Note, "stopped strace inject=getpgid") {
		t.Fatalf("repair = %+v, %v", done, err)
	}
	checkDetached(t, r, h, lines)
}

// The runtime wrapper against a harmless "runc" (a script that logs its
// arguments): a chosen subcommand fails or is delayed, others pass
// through, runc runs under strace, and a kill comes after N creates.
func TestRuntimeWrapperReal(t *testing.T) {
	r := realRun(t, "strace")
	ctx := context.Background()
	ran := filepath.Join(r.Dir, "ran.log")
	fake := filepath.Join(r.Dir, "fake-runc")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$*\" >> "+ran+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := InstallWrapper(ctx, r.Node, r.Dir, fake, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	shim, _ := startHelper(t, "sleep")
	tgt := Target{Node: r.Node, Dir: r.Dir, Wrapper: w, Shims: func(context.Context) ([]int, error) { return []int{shim.Process.Pid}, nil }}
	call := func(args ...string) (time.Duration, int, string) {
		start := time.Now()
		out, err := exec.Command(w.Path, args...).CombinedOutput()
		code := 0
		if x := (*exec.ExitError)(nil); errors.As(err, &x) {
			code = x.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return time.Since(start), code, string(out)
	}
	ranLines := func() []string {
		data, _ := os.ReadFile(ran)
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	arm := func(f Fault) Armed {
		a, err := f.Arm(ctx, r, tgt)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// A call before the rules are armed is not theirs to count.
	if _, code, _ := call("start", "c0"); code != 0 {
		t.Fatalf("start before arming: exit %d", code)
	}
	kill := arm(KillFault{Victim: "shim", Signal: "KILL", At: "creates", Creates: 2})
	fail := arm(WrapperFault{Subcommand: "create", Action: "fail", ExitCode: 3})
	delay := arm(WrapperFault{Subcommand: "start", Action: "delay", Delay: 400 * time.Millisecond})

	if _, code, out := call("--root", "/x", "--log-format", "json", "create", "--bundle", "/b", "c1"); code != 3 || !strings.Contains(out, "failing runc create with exit code 3") {
		t.Errorf("create under fail: exit %d, %q; want 3 and the wrapper's message", code, out)
	}
	if took, code, _ := call("start", "c1"); code != 0 || took < 400*time.Millisecond {
		t.Errorf("start under delay: exit %d after %s; want 0 after 400ms or more", code, took)
	}
	if _, code, _ := call("delete", "c1"); code != 0 {
		t.Errorf("delete (no rule): exit %d", code)
	}
	if got := ranLines(); !slices.Equal(got, []string{"start c0", "start c1", "delete c1"}) {
		t.Errorf("runc ran %q; want start and delete, not the failed create", got)
	}
	if got := fail.Saw(); got != "failed 1 of 1 runc create calls while armed with exit code 3" {
		t.Errorf("fail Saw = %q", got)
	}
	if got := delay.Saw(); got != "delayed 1 of 1 runc start calls while armed by 400ms" {
		t.Errorf("delay Saw = %q", got)
	}
	if err := shim.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the shim died after 1 create; the kill is for the second: %v", err)
	}
	for _, a := range []Armed{fail, delay} {
		if err := a.Disarm(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, code, _ := call("create", "c2"); code != 0 || !slices.Contains(ranLines(), "create c2") {
		t.Errorf("create after disarm: exit %d, runc ran %q", code, ranLines())
	}
	if got := fail.Saw(); got != "failed 1 of 1 runc create calls while armed with exit code 3" {
		t.Errorf("fail Saw after a create past its disarm = %q", got)
	}
	// The second create after arming: the kill comes (a reaped SIGKILL).
	if err := shim.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the shim after 2 creates: %v; want killed", err)
	}
	if err := kill.Disarm(ctx); err != nil || !strings.Contains(kill.Saw(), "sent SIGKILL to shim pid") {
		t.Errorf("kill: %v, Saw %q", err, kill.Saw())
	}

	// runc under strace: the script's openat calls are delayed, and strace
	// is gone when the call returns.
	st := arm(StraceFault{On: "runc", Syscall: "openat", Delay: 200 * time.Millisecond, When: "1+"})
	if took, code, out := call("kill", "c2", "KILL"); code != 0 || took < 200*time.Millisecond {
		t.Errorf("kill under strace: exit %d after %s (%s); want 0 after 200ms or more", code, took, out)
	}
	if saw := st.Saw(); !strings.HasPrefix(saw, "delayed ") || strings.HasPrefix(saw, "delayed 0 ") {
		t.Errorf("strace on runc Saw = %q", saw)
	}
	if err := st.Disarm(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range under(t, r.Dir) {
		if p.Comm == "strace" {
			t.Errorf("strace left after the runc call returned: %v", p)
		}
	}
}

// pressure: stress-ng runs under the fault's directory while armed,
// journaled, and nothing is left after Disarm.
func TestPressureReal(t *testing.T) {
	r := realRun(t, "stress-ng")
	ctx := context.Background()
	a, err := Pressure{CPU: 1, VMBytes: "64M"}.Arm(ctx, r, Target{Node: r.Node, Dir: r.Dir})
	if err != nil {
		t.Fatal(err)
	}
	err = poll.Within(ctx, 10*time.Second, 50*time.Millisecond, func(context.Context) (bool, error) {
		return slices.ContainsFunc(under(t, r.Dir), func(p evidence.Process) bool { return strings.HasPrefix(p.Comm, "stress-ng") }), nil
	})
	if err != nil || journaled(t, r) != 1 {
		t.Errorf("armed: stress-ng under the run's directory: %v; %d journal entries, want 1", err, journaled(t, r))
	}
	if err := a.Disarm(ctx); err != nil {
		t.Fatal(err)
	}
	if left := under(t, r.Dir); len(left) > 0 || journaled(t, r) != 0 {
		t.Errorf("after disarm: processes %v, %d journal entries; want none", left, journaled(t, r))
	}
	if saw := a.Saw(); !strings.HasPrefix(saw, "stress-ng --cpu 1 --vm 0 (64M) --io 0 for ") {
		t.Errorf("Saw = %q", saw)
	}
}

// kill: the daemon at once; a runc init below a shim when it appears,
// leaving the shim and the host's other processes alone.
func TestKillReal(t *testing.T) {
	r := realRun(t)
	ctx := context.Background()
	daemon, _ := startHelper(t, "sleep")
	a, err := KillFault{Victim: "daemon", Signal: "KILL", At: "now"}.Arm(ctx, r, selfTarget(r, daemon.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the daemon after kill now: %v; want killed", err)
	}
	if !strings.Contains(a.Saw(), fmt.Sprintf("sent SIGKILL to daemon pid %d", daemon.Process.Pid)) {
		t.Errorf("Saw = %q", a.Saw())
	}

	var mu sync.Mutex
	var shims []int
	tgt := Target{Node: r.Node, Dir: r.Dir, Shims: func(context.Context) ([]int, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(shims), nil
	}}
	// A "runc init" that is no shim's child is not a victim.
	stranger, _ := startHelper(t, "sleep", "runc", "init")
	k, err := KillFault{Victim: "runc-init", Signal: "KILL", At: "appears"}.Arm(ctx, r, tgt)
	if err != nil {
		t.Fatal(err)
	}
	shim, lines := startHelper(t, "shim")
	mu.Lock()
	shims = append(shims, shim.Process.Pid)
	mu.Unlock()
	initPID, _ := strconv.Atoi(waitLine(t, lines, "the shim's runc init", func(string) bool { return true }))
	err = poll.Within(ctx, 20*time.Second, 20*time.Millisecond, func(context.Context) (bool, error) {
		return syscall.Kill(initPID, 0) == syscall.ESRCH, nil
	})
	if err != nil {
		t.Errorf("the shim's runc init %d was not killed: %v (Saw %q)", initPID, err, k.Saw())
	}
	if err := k.Disarm(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*exec.Cmd{shim, stranger} {
		if err := p.Process.Signal(syscall.Signal(0)); err != nil {
			t.Errorf("%v (pid %d) was killed too: %v", p.Args, p.Process.Pid, err)
		}
	}
	if want := fmt.Sprintf("sent SIGKILL to runc-init pid %d (runc init)", initPID); !strings.HasPrefix(k.Saw(), want) {
		t.Errorf("Saw = %q, want %q...", k.Saw(), want)
	}
}

// strace on the shims reaches a shim that starts after arming (the
// watcher attaches to it), and Disarm detaches it too.
func TestStraceOnNewShimsReal(t *testing.T) {
	r := realRun(t, "strace")
	ctx := context.Background()
	var mu sync.Mutex
	var shims []int
	tgt := Target{Node: r.Node, Dir: r.Dir, Shims: func(context.Context) ([]int, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(shims), nil
	}}
	a, err := StraceFault{On: "shims", Syscall: "getpgid", Errno: "EIO", When: "1+"}.Arm(ctx, r, tgt)
	if err != nil {
		t.Fatal(err)
	}
	h, lines := startHelper(t, "syscalls")
	mu.Lock()
	shims = append(shims, h.Process.Pid)
	mu.Unlock()
	waitLine(t, lines, "getpgid call of the new shim failing with EIO", func(l string) bool { return strings.HasSuffix(l, syscall.EIO.Error()) })
	if err := a.Disarm(ctx); err != nil {
		t.Fatal(err)
	}
	checkDetached(t, r, h, lines)
}

// strace on the daemon lets go of a child at its exec: the processes a
// daemon starts (shims, runc) are not traced by the daemon's fault, so a
// fault on them can still attach (ptrace allows one tracer).
func TestStraceLetsChildrenGoAtExec(t *testing.T) {
	r := realRun(t, "strace")
	ctx := context.Background()
	h, lines := startHelper(t, "spawner")
	a, err := StraceFault{On: "daemon", Syscall: "getpgid", Delay: time.Millisecond, When: "1+"}.Arm(ctx, r, selfTarget(r, h.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Disarm(ctx) }()
	for len(lines) > 0 {
		<-lines
	}
	// The second pid printed after arming is of a child forked while traced.
	waitLine(t, lines, "a child", func(string) bool { return true })
	child, _ := strconv.Atoi(waitLine(t, lines, "a second child", func(string) bool { return true }))
	tgt := Target{Node: r.Node}
	err = poll.Within(ctx, 10*time.Second, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
		return err == nil && strings.HasPrefix(string(data), "sleep"), nil
	})
	if err != nil {
		t.Fatalf("child %d did not exec sleep: %v", child, err)
	}
	// The exec stops the child (PTRACE_EVENT_EXEC) until strace handles
	// the stop and detaches: its cmdline is sleep's before strace lets it
	// go, and on a busy machine strace may be that late.
	var traced int
	var cerr error
	_ = poll.Within(ctx, 10*time.Second, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		traced, cerr = TracerPID(ctx, tgt, child)
		return cerr == nil && traced == 0, nil
	})
	parent, perr := TracerPID(ctx, tgt, h.Process.Pid)
	if perr != nil || cerr != nil || parent == 0 || traced != 0 {
		t.Errorf("TracerPid: daemon %d (%v), its child after exec %d (%v); want the daemon traced, the child not", parent, perr, traced, cerr)
	}
}
