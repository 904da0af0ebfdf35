package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/run"
)

// KillFault sends a signal to one of the engine's processes at a chosen
// point: the daemon, the newest shim, or a runc init (a process below a
// shim or the daemon run as "runc init", between create and start);
// at once, when the first new one appears after arming, or after the
// runtime wrapper has seen a number of creates. It kills once; a kill is
// not undone, and Disarm only stops waiting for the point.
type KillFault struct {
	// Victim is "daemon", "shim" or "runc-init".
	Victim string
	// Signal is a name without SIG: KILL, TERM, INT or QUIT (a Go daemon
	// dumps its goroutines on QUIT, then exits).
	Signal string
	// At is "now", "appears" (not for the daemon) or "creates".
	At string
	// Creates is how many creates the wrapper sees after arming before
	// the kill (At "creates").
	Creates int
}

var (
	killVictims = []string{"daemon", "shim", "runc-init"}
	killPoints  = []string{"now", "appears", "creates"}
	signals     = map[string]syscall.Signal{"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT}
)

func (f KillFault) Kind() string { return "kill" }

func (f KillFault) Params() map[string]string {
	p := map[string]string{"victim": f.Victim, "signal": f.Signal, "at": f.At}
	if f.At == "creates" {
		p["creates"] = strconv.Itoa(f.Creates)
	}
	return p
}

// Needs is what finding the victim and the point needs.
func (f KillFault) Needs() []string {
	needs := []string{NeedShims}
	if f.Victim == "daemon" {
		needs = []string{NeedDaemon}
	}
	if f.At == "creates" {
		needs = append(needs, NeedWrapper)
	}
	return needs
}

// victims are the candidates on the node now, oldest first.
func (f KillFault) victims(ctx context.Context, t Target) ([]evidence.Process, error) {
	var roots []int
	daemon := daemonPID(ctx, t)
	if daemon > 0 {
		roots = append(roots, daemon)
	}
	if t.Shims != nil && f.Victim != "daemon" {
		shims, err := t.Shims(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the shims: %w", err)
		}
		roots = append(roots, shims...)
	}
	procs, err := t.Node.Processes(ctx)
	if err != nil {
		return nil, err
	}
	return victimsAmong(procs, f.Victim, roots, daemon), nil
}

// daemonPID is the daemon's pid, 0 with none.
func daemonPID(ctx context.Context, t Target) int {
	if t.Daemon == nil {
		return 0
	}
	pid, err := t.Daemon(ctx)
	if err != nil {
		return 0
	}
	return pid
}

// victimsAmong picks the victims of kind victim from procs: the daemon;
// the shims (roots but the daemon); or the runc inits below any root,
// never another process of the host. Oldest first.
func victimsAmong(procs []evidence.Process, victim string, roots []int, daemon int) []evidence.Process {
	var out []evidence.Process
	switch victim {
	case "daemon", "shim":
		for _, p := range procs {
			if slices.Contains(roots, p.PID) && (p.PID == daemon) == (victim == "daemon") {
				out = append(out, p)
			}
		}
	case "runc-init":
		below := map[int]bool{}
		for _, r := range roots {
			below[r] = true
		}
		// Parents before children is not given: repeat until nothing is added.
		for grew := true; grew; {
			grew = false
			for _, p := range procs {
				if below[p.PPID] && !below[p.PID] && p.State != "Z" {
					below[p.PID], grew = true, true
				}
			}
		}
		for _, p := range procs {
			if below[p.PID] && !slices.Contains(roots, p.PID) && len(p.Cmdline) >= 2 && p.Cmdline[1] == "init" {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b evidence.Process) int { return a.Started.Compare(b.Started) })
	return out
}

func (f KillFault) Arm(ctx context.Context, r *run.Run, t Target) (Armed, error) {
	if f.At == "creates" && t.Wrapper == nil {
		return nil, fmt.Errorf("arming kill at=creates: the engine does not run the runtime wrapper that counts creates (Target.Wrapper is nil)")
	}
	armedAt := time.Now()
	var mu sync.Mutex
	saw := "waiting for " + f.point()
	setSaw := func(s string) { mu.Lock(); saw = s; mu.Unlock() }
	kill := func(ctx context.Context, p evidence.Process) error {
		if err := t.Node.Kill(ctx, p.PID, int(signals[f.Signal])); err != nil {
			return err
		}
		line := fmt.Sprintf("sent SIG%s to %s pid %d (%s) %s after arming", f.Signal, f.Victim, p.PID, p.CommandLine(), time.Since(armedAt).Round(time.Millisecond))
		r.Event("chaos kill", line)
		setSaw(line)
		return nil
	}
	// newest kills the newest victim; none is no error (a point with no
	// victim is a schedule that did nothing).
	newest := func(ctx context.Context) error {
		vs, err := f.victims(ctx, t)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			setSaw(fmt.Sprintf("no %s to kill at %s", f.Victim, f.point()))
			return nil
		}
		return kill(ctx, vs[len(vs)-1])
	}
	if f.At == "now" {
		if err := newest(ctx); err != nil {
			return nil, fmt.Errorf("arming kill: %w", err)
		}
		return &armed{disarm: func(context.Context) error { return nil }, saw: func() string { mu.Lock(); defer mu.Unlock(); return saw }}, nil
	}
	// What was there when armed is not what appears.
	before, err := f.victims(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("arming kill: %w", err)
	}
	var creates0 int
	if f.At == "creates" {
		_, creates0 = t.Wrapper.count(ctx, "", "", "create", 0, -1)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), faultBound)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = poll.Until(wctx, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
			if f.At == "creates" {
				if _, n := t.Wrapper.count(ctx, "", "", "create", 0, -1); n-creates0 < f.Creates {
					return false, nil
				}
				return true, newest(ctx)
			}
			vs, err := f.victims(ctx, t)
			if err != nil {
				return false, nil
			}
			for _, v := range vs {
				if !slices.ContainsFunc(before, func(b evidence.Process) bool { return b.PID == v.PID && b.Started.Equal(v.Started) }) {
					return true, kill(ctx, v)
				}
			}
			return false, nil
		})
	}()
	return &armed{
		disarm: func(context.Context) error { cancel(); <-done; return nil },
		saw:    func() string { mu.Lock(); defer mu.Unlock(); return saw },
	}, nil
}

// point says when the kill comes.
func (f KillFault) point() string {
	switch f.At {
	case "appears":
		return "the next new " + f.Victim
	case "creates":
		return fmt.Sprintf("%d creates", f.Creates)
	}
	return "arming"
}

func init() {
	RegisterFault(FaultKind{
		Kind: "kill",
		Draw: func(rng *rand.Rand) Fault {
			// The daemon one time in six: after it, a trial checks
			// neither the daemon nor teardown (its shims outlive it by
			// design), so a daemon kill spends a trial on little.
			f := KillFault{Victim: pick(rng, "daemon", "shim", "shim", "runc-init", "runc-init", "runc-init"), Signal: pick(rng, "KILL", "KILL", "TERM", "QUIT"), At: pick(rng, killPoints...)}
			if f.Victim == "daemon" && f.At == "appears" {
				f.At = "creates"
			}
			if f.At == "creates" {
				f.Creates = 1 + rng.IntN(20)
			}
			return f
		},
		Parse: func(p map[string]string) (Fault, error) {
			r := readParams("kill", p, "victim", "signal", "at", "creates")
			f := KillFault{Victim: r.choice("victim", killVictims...), Signal: r.choice("signal", "KILL", "TERM", "INT", "QUIT"), At: r.choice("at", killPoints...)}
			if f.At == "creates" {
				f.Creates = r.integer("creates", 1, 100000)
			} else if _, has := p["creates"]; has {
				r.fail("creates is for at=creates, not %s", f.At)
			}
			if f.Victim == "daemon" && f.At == "appears" {
				r.fail("victim=daemon with at=appears: a daemon does not appear while armed; want at=now or at=creates")
			}
			return f, r.err()
		},
	})
}
