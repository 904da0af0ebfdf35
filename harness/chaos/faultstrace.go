package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/fixtures/runtimewrapper/control"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/run"
)

// StraceFault injects a delay or an error into one system call of the
// engine's processes with strace's fault injection (-e inject=), as
// containerd's regression test for containerd#7496 delays the shim's
// umount2: on the daemon (strace -f -p: every thread), on the shims (those
// running when armed and each new one, found every 250 ms), or on runc
// (every call runs under strace through the runtime wrapper). strace
// follows threads and forks but lets a child go when it execs (-b
// execve): the daemon's fault stays off the shims it starts, a shim's off
// runc, and runc's off runc init, so a create returns while the container
// waits for its start. That keeps the kinds composable: ptrace allows one
// tracer per process, so two strace faults on the same processes do not
// compose (the second fails to arm; under the wrapper, the call fails).
//
// Disarm sends strace SIGTERM, on which it detaches from every tracee;
// strace's that do not exit in 5 s are killed, and the kernel detaches
// their tracees. Either way a tracee runs on untraced (TracerPid 0): a
// call stopped in its delay continues at once and runs normally, calls
// after it are not touched. A killed run's straces are stopped by the
// next run's repair (journal kind chaos-process).
type StraceFault struct {
	// On is "daemon", "shims" or "runc".
	On      string
	Syscall string
	// Delay is slept before the call runs (strace-delay); 0 with Errno.
	Delay time.Duration
	// Errno makes the call fail with it without running (strace-error).
	Errno string
	// When picks the calls, per thread, in strace's syntax: "1+" every
	// call, "3" the third only, "2+5" the second and every fifth after.
	When string
}

var (
	syscallName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,31}$`)
	straceWhen  = regexp.MustCompile(`^[1-9][0-9]{0,5}(\.\.[1-9][0-9]{0,5})?(\+[0-9]{0,5})?$`)
	straceOn    = []string{"daemon", "shims", "runc"}
	errnos      = []string{"EIO", "EINTR", "EAGAIN", "ENOSPC", "ENOMEM", "EBUSY", "EMFILE", "EPERM", "ENOENT", "ECONNREFUSED"}
)

func (f StraceFault) Kind() string {
	if f.Errno != "" {
		return "strace-error"
	}
	return "strace-delay"
}

func (f StraceFault) Params() map[string]string {
	p := map[string]string{"on": f.On, "syscall": f.Syscall, "when": f.When}
	if f.Errno != "" {
		p["errno"] = f.Errno
	} else {
		p["delay"] = f.Delay.String()
	}
	return p
}

// Needs is what the strace's tracees need of the target.
func (f StraceFault) Needs() []string {
	return []string{map[string]string{"daemon": NeedDaemon, "shims": NeedShims, "runc": NeedWrapper}[f.On]}
}

// inject is strace's -e inject= value.
func (f StraceFault) inject() string {
	if f.Errno != "" {
		return fmt.Sprintf("inject=%s:error=%s:when=%s", f.Syscall, f.Errno, f.When)
	}
	return fmt.Sprintf("inject=%s:delay_enter=%d:when=%s", f.Syscall, f.Delay.Microseconds(), f.When)
}

// straceLog is where the straces of a fault armed in dir write.
func straceLog(dir string) string { return filepath.Join(dir, "strace.log") }

// straceArgv is strace's command line before its tracees: threads and
// forks followed up to an exec, -o into log, appended (several straces
// share it), only the injected call logged.
func (f StraceFault) straceArgv(strace, log string) []string {
	return []string{strace, "-f", "-b", "execve", "-qq", "-A", "-o", log,
		"-e", "trace=" + f.Syscall, "-e", "signal=none", "-e", f.inject()}
}

// Reproducer is the shell lines that arm the fault on the process pid
// names (a number or a shell expression) as Arm does, writing log, and
// wait, as Arm does, until the kernel says it is traced: a call before
// that would not be touched.
func (f StraceFault) Reproducer(pid, log string) []string {
	// TRACEE is expanded by the script's shell, so pid may be an
	// expression of the script's own variables ($(pgrep ... $POD)).
	argv := append(f.straceArgv("strace", log), "-p", `"$TRACEE"`)
	return []string{
		"TRACEE=" + pid,
		strings.Join(argv, " ") + " &  # the fault",
		`timeout 30 sh -c "until grep -Eq '^TracerPid:[[:space:]]+[1-9]' /proc/$TRACEE/status; do sleep 0.1; done"`,
	}
}

// injectedCalls counts the calls strace delayed or failed in its log: each
// ends "(DELAYED)" or "(INJECTED)" (the whole line, or the resumed half of
// an interrupted one), and only the injected call is traced.
func injectedCalls(log string) int {
	return strings.Count(log, "(DELAYED)") + strings.Count(log, "(INJECTED)")
}

// prepare finds strace on the target's node and makes the fault's
// directory.
func (f StraceFault) prepare(ctx context.Context, t Target) (strace, dir string, err error) {
	out, err := t.Node.Command("sh", "-c", "command -v strace").Output(ctx)
	strace = strings.TrimSpace(string(out))
	if err != nil || strace == "" {
		return "", "", fmt.Errorf("arming %s: strace is not installed on %s (Debian's strace: ci/deps.sh test)", f.Kind(), t.Node.Name())
	}
	dir, err = faultDir(ctx, t, f.Kind())
	return strace, dir, err
}

func (f StraceFault) Arm(ctx context.Context, r *run.Run, t Target) (Armed, error) {
	if f.On == "runc" {
		return f.armRunc(ctx, t)
	}
	pids, err := f.tracees(ctx, t)
	if err != nil {
		return nil, err
	}
	a, err := f.arm(ctx, r, t, pids, f.On == "shims")
	if err != nil {
		// Not a nil *StraceArmed in a non-nil Armed.
		return nil, err
	}
	return a, nil
}

// armRunc runs every runc call under strace through the runtime wrapper.
func (f StraceFault) armRunc(ctx context.Context, t Target) (Armed, error) {
	strace, dir, err := f.prepare(ctx, t)
	if err != nil {
		return nil, err
	}
	a := &StraceArmed{f: f, node: t.Node, log: straceLog(dir)}
	// -b execve matters most here: without it strace (runc create, to
	// the shim) would wait for runc init, that is for the container.
	return armRule(ctx, t, f.Kind(), control.Rule{ID: ruleID(f.Kind()), Strace: f.straceArgv(strace, a.log)},
		func(int, int) string { return a.Saw() }, "strace")
}

// tracees are the pids a fault on the daemon or the shims attaches to
// when armed.
func (f StraceFault) tracees(ctx context.Context, t Target) ([]int, error) {
	if f.On == "daemon" {
		if t.Daemon == nil {
			return nil, fmt.Errorf("arming %s on the daemon: the stack has no daemon", f.Kind())
		}
		pid, err := t.Daemon(ctx)
		if err != nil {
			return nil, fmt.Errorf("arming %s: the daemon's pid: %w", f.Kind(), err)
		}
		return []int{pid}, nil
	}
	if t.Shims == nil {
		return nil, fmt.Errorf("arming %s on the shims: the stack has no shims", f.Kind())
	}
	pids, err := t.Shims(ctx)
	if err != nil {
		return nil, fmt.Errorf("arming %s: the shims' pids: %w", f.Kind(), err)
	}
	return pids, nil
}

// ArmOn arms the fault on the processes pids alone, not on the daemon or
// every shim: a scenario's fault on the one process its bug is about (the
// sandbox shim whose umount2 containerd#7496 delays). It is owned as
// Arm's is: journaled, stopped by Disarm, the run's end, or the repair
// after a killed run. f.On only names the processes in Saw.
func (f StraceFault) ArmOn(ctx context.Context, r *run.Run, t Target, pids ...int) (*StraceArmed, error) {
	if len(pids) == 0 {
		return nil, fmt.Errorf("arming %s: no process to trace", f.Kind())
	}
	return f.arm(ctx, r, t, pids, false)
}

// arm starts one strace per pid in a new fault directory, as one journaled
// process group, and with watchShims attaches to every shim that starts
// later too.
func (f StraceFault) arm(ctx context.Context, r *run.Run, t Target, pids []int, watchShims bool) (*StraceArmed, error) {
	strace, dir, err := f.prepare(ctx, t)
	if err != nil {
		return nil, err
	}
	attach := func(pid int) []string { return append(f.straceArgv(strace, straceLog(dir)), "-p", strconv.Itoa(pid)) }
	what := fmt.Sprintf("strace %s on the %s", f.inject(), f.On)
	// SIGTERM makes strace detach from its tracees and exit.
	g, err := ownProcs(ctx, r, t.Node, dir, what, syscall.SIGTERM, nil)
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		if err := f.attach(ctx, t, g, attach(pid), pid); err != nil {
			return nil, errors.Join(err, g.release(context.WithoutCancel(ctx)))
		}
	}
	stopWatch := func() {}
	if watchShims {
		stopWatch = f.watchShims(ctx, t, g, pids, attach)
	}
	a := &StraceArmed{f: f, node: t.Node, log: straceLog(dir)}
	a.disarm = func(ctx context.Context) error { stopWatch(); return g.release(ctx) }
	return a, nil
}

// StraceArmed is a strace fault in effect, with what its straces logged.
type StraceArmed struct {
	armed
	f    StraceFault
	node node.Node
	log  string
}

// Log is the file on the target's node the fault's straces write: one
// line per traced call, for a report's evidence.
func (a *StraceArmed) Log() string { return a.log }

// Calls counts the calls the fault has delayed or failed so far, so a
// caller can tell the fault was in force.
func (a *StraceArmed) Calls(ctx context.Context) int {
	log, _ := a.node.ReadFile(ctx, a.log)
	return injectedCalls(string(log))
}

// Saw says what the fault did so far.
func (a *StraceArmed) Saw() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, f := a.Calls(ctx), a.f
	if f.Errno != "" {
		return fmt.Sprintf("failed %d %s calls of %s with %s", n, f.Syscall, f.On, f.Errno)
	}
	return fmt.Sprintf("delayed %d %s calls of %s by %s", n, f.Syscall, f.On, f.Delay)
}

// attach starts one strace on pid and waits until the kernel says pid is
// traced, so the fault is in effect when Arm returns.
func (f StraceFault) attach(ctx context.Context, t Target, g *procGroup, argv []string, pid int) error {
	out, err := g.start(ctx, argv)
	if err != nil {
		return err
	}
	err = poll.Within(ctx, 10*time.Second, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		tracer, err := TracerPID(ctx, t, pid)
		return err == nil && tracer != 0, nil
	})
	if err != nil {
		log, _ := t.Node.ReadFile(context.WithoutCancel(ctx), out)
		return fmt.Errorf("strace did not attach to pid %d within 10 s (%s): %w\n%s", pid, strings.Join(argv, " "), err, log)
	}
	return nil
}

// watchShims attaches a strace to every shim that starts while armed;
// the returned func stops watching and waits until it has.
func (f StraceFault) watchShims(ctx context.Context, t Target, g *procGroup, traced []int, attach func(pid int) []string) (stop func()) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), faultBound)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = poll.Until(wctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
			pids, err := t.Shims(ctx)
			if err != nil {
				return false, nil
			}
			for _, pid := range pids {
				if !slices.Contains(traced, pid) {
					traced = append(traced, pid)
					// A shim that exits before strace attaches is no error.
					_ = f.attach(ctx, t, g, attach(pid), pid)
				}
			}
			return false, nil
		})
	}()
	return func() { cancel(); <-done }
}

// TracerPID reads the pid tracing pid (0 when none) from /proc/PID/status
// on the target's node.
func TracerPID(ctx context.Context, t Target, pid int) (int, error) {
	data, err := t.Node.ReadFile(ctx, fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no TracerPid line", pid)
}

func drawStraceOn(rng *rand.Rand) string { return pick(rng, straceOn...) }

// parseStrace reads the parameters both strace kinds share.
func parseStrace(kind string, p map[string]string, own string) (*params, StraceFault) {
	r := readParams(kind, p, "on", "syscall", "when", own)
	return r, StraceFault{On: r.choice("on", straceOn...),
		Syscall: r.matching("syscall", syscallName, "a system call's name such as umount2"),
		When:    r.matching("when", straceWhen, `strace's when: N, N+, N+STEP or N..M (such as 1+)`)}
}

func init() {
	RegisterFault(FaultKind{
		Kind: "strace-delay",
		Draw: func(rng *rand.Rand) Fault {
			return StraceFault{On: drawStraceOn(rng),
				Syscall: pick(rng, "umount2", "mount", "openat", "write", "read", "unlinkat", "fsync", "wait4", "clone", "connect"),
				Delay:   pick(rng, 10*time.Millisecond, 100*time.Millisecond, time.Second, 5*time.Second),
				When:    pick(rng, "1+", "1+", "2+", "1+3", "3")}
		},
		Parse: func(p map[string]string) (Fault, error) {
			r, f := parseStrace("strace-delay", p, "delay")
			f.Delay = r.duration("delay", time.Microsecond, time.Minute)
			return f, r.err()
		},
	})
	RegisterFault(FaultKind{
		Kind: "strace-error",
		Draw: func(rng *rand.Rand) Fault {
			// Pairs a call with an error it can return for real on every
			// file descriptor it is made on: strace cannot choose the fd.
			// So a full or failing disk is pwrite64 (files only: bbolt's
			// pages), never write: a socket write that fails with ENOSPC
			// leaves grpc-go's server writer dead on a connection it keeps
			// open (it leaves socket write errors to its reader, which sees
			// none), and the daemon then answers that client nothing, ever.
			// The explorer reported that as a new bug (rc93, seed 2, trial 39).
			c := pick(rng, [2]string{"umount2", "EBUSY"}, [2]string{"mount", "EBUSY"}, [2]string{"openat", "EMFILE"},
				[2]string{"openat", "EIO"}, [2]string{"pwrite64", "ENOSPC"}, [2]string{"pwrite64", "EIO"}, [2]string{"unlinkat", "EBUSY"},
				[2]string{"fsync", "EIO"}, [2]string{"pipe2", "EMFILE"}, [2]string{"mkdirat", "ENOSPC"}, [2]string{"connect", "ECONNREFUSED"},
				[2]string{"clone", "EAGAIN"})
			return StraceFault{On: drawStraceOn(rng), Syscall: c[0], Errno: c[1], When: pick(rng, "1", "2", "3", "1+", "2+5")}
		},
		Parse: func(p map[string]string) (Fault, error) {
			r, f := parseStrace("strace-error", p, "errno")
			f.Errno = r.choice("errno", errnos...)
			return f, r.err()
		},
	})
}
