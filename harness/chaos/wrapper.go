package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/fixtures/runtimewrapper/control"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/run"
)

// Wrapper is the runtime wrapper installed on a node: a small binary
// (fixtures/runtimewrapper) the engine runs as its runc, which reads its
// control file at every call, delays or fails the calls of chosen
// subcommands or runs them under strace, and execs the real runc. It is
// containerd's runc-fp idea, driven by a file so faults change it while
// containers run. Everything lives in its directory in the run's.
type Wrapper struct {
	Node node.Node
	// Dir holds the binary, its control file and its call log.
	Dir string
	// Path is the binary: what the engine must be configured with as its
	// runc (containerd's runc options BinaryName).
	Path string

	mu      sync.Mutex
	control control.Control
}

// InstallWrapper builds the wrapper (cached in cacheRoot), installs it in
// a new directory in dir (a run's directory on n) with a control file
// that passes every call to realRunc, and returns it. Configure the
// engine with its Path and give it to the faults as Target.Wrapper.
func InstallWrapper(ctx context.Context, n node.Node, dir, realRunc, cacheRoot string) (*Wrapper, error) {
	if !filepath.IsAbs(realRunc) {
		return nil, fmt.Errorf("installing the runtime wrapper: runc %q is not an absolute path; give the runc binary the engine would run", realRunc)
	}
	binary, err := fixture.BuildRuntimeWrapper(ctx, cacheRoot)
	if err != nil {
		return nil, err
	}
	wdir, err := makeDirIn(ctx, n, dir, "runtime-wrapper")
	if err != nil {
		return nil, err
	}
	// Named runc: the engine and its shims show and log it as runc.
	w := &Wrapper{Node: n, Dir: wdir, Path: filepath.Join(wdir, "runc"),
		control: control.Control{Runc: realRunc, Log: filepath.Join(wdir, "calls.log")}}
	if err := n.CopyIn(ctx, binary, w.Path, 0o755); err != nil {
		return nil, fmt.Errorf("installing the runtime wrapper in %s: %w", wdir, err)
	}
	if err := w.write(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// write replaces the control file whole (a new file renamed over it), so
// a call never reads half of it.
func (w *Wrapper) write(ctx context.Context) error {
	data, err := json.MarshalIndent(w.control, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(w.Dir, control.File)
	if err := w.Node.WriteFile(ctx, path+".new", data, 0o600); err != nil {
		return fmt.Errorf("writing the runtime wrapper's control file: %w", err)
	}
	if err := w.Node.Command("mv", "-f", path+".new", path).Run(ctx); err != nil {
		return fmt.Errorf("replacing the runtime wrapper's control file: %w", err)
	}
	return nil
}

// addRule makes the wrapper apply r from its next call on.
func (w *Wrapper) addRule(ctx context.Context, r control.Rule) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.control.Rules = append(w.control.Rules, r)
	return w.write(ctx)
}

// removeRule stops rule id; calls already delayed or under strace finish
// as they started.
func (w *Wrapper) removeRule(ctx context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.control.Rules = slices.DeleteFunc(w.control.Rules, func(r control.Rule) bool { return r.ID == id })
	return w.write(ctx)
}

// Calls reads the call log: one line per runc call (control.Line).
func (w *Wrapper) Calls(ctx context.Context) ([]string, error) {
	data, err := w.Node.ReadFile(ctx, w.control.Log)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the runtime wrapper's call log: %w", err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), nil
}

// count is how many calls rule id acted on with action, and how many
// calls of subcommand there were ("" for any), among the log's lines from
// line from up to line to (negative: to the end).
func (w *Wrapper) count(ctx context.Context, id, action, subcommand string, from, to int) (acted, calls int) {
	lines, _ := w.Calls(ctx)
	if to < 0 || to > len(lines) {
		to = len(lines)
	}
	for _, l := range lines[min(from, to):to] {
		if l == "" {
			continue
		}
		if subcommand == "" || strings.Fields(l)[0] == subcommand {
			calls++
		}
		if id != "" && control.Acted(l, id, action) {
			acted++
		}
	}
	return acted, calls
}

// ruleID names what one armed fault makes (a wrapper rule, units): name
// and a random suffix, unique in the control file and the run.
func ruleID(name string) string { return fmt.Sprintf("%s-%06x", name, rand.Uint32()&0xffffff) }

// armRule adds a rule and returns the Armed that removes it; saw says
// what it did from the call log.
func armRule(ctx context.Context, t Target, kind string, r control.Rule, saw func(acted, calls int) string, action string) (Armed, error) {
	if t.Wrapper == nil {
		return nil, fmt.Errorf("arming %s: the engine does not run the runtime wrapper (InstallWrapper; Target.Wrapper is nil)", kind)
	}
	w := t.Wrapper
	// The calls counted are those made while the rule was in force: a
	// fault armed as a schedule's last step saw none of the trial's
	// earlier calls, and "delayed 0 of 143" would say it missed them.
	lines, err := w.Calls(ctx)
	if err != nil {
		return nil, fmt.Errorf("arming %s: %w", kind, err)
	}
	from, to := len(lines), -1
	if err := w.addRule(ctx, r); err != nil {
		return nil, fmt.Errorf("arming %s: %w", kind, err)
	}
	return &armed{
		disarm: func(ctx context.Context) error {
			err := w.removeRule(ctx, r.ID)
			if lines, lerr := w.Calls(ctx); lerr == nil {
				to = len(lines)
			}
			return err
		},
		saw: func() string {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return saw(w.count(ctx, r.ID, action, r.Subcommand, from, to))
		},
	}, nil
}

// WrapperFault delays or fails the runc calls of one subcommand through
// the runtime wrapper while armed: the races of containerd#9103 and
// containerd#10589 were found with delays like these.
type WrapperFault struct {
	Subcommand string
	// Action is "delay" (sleep Delay before runc runs) or "fail" (exit
	// with ExitCode without running runc).
	Action   string
	Delay    time.Duration
	ExitCode int
}

func (f WrapperFault) Kind() string { return "runtime-wrapper" }

func (f WrapperFault) Params() map[string]string {
	p := map[string]string{"subcommand": f.Subcommand, "action": f.Action}
	if f.Action == "delay" {
		p["delay"] = f.Delay.String()
	} else {
		p["exit"] = strconv.Itoa(f.ExitCode)
	}
	return p
}

func (f WrapperFault) Arm(ctx context.Context, _ *run.Run, t Target) (Armed, error) {
	r := control.Rule{ID: ruleID(f.Kind()), Subcommand: f.Subcommand}
	if f.Action == "delay" {
		r.DelayMs = f.Delay.Milliseconds()
	} else {
		r.ExitCode = f.ExitCode
	}
	return armRule(ctx, t, f.Kind(), r, func(acted, calls int) string {
		if f.Action == "delay" {
			return fmt.Sprintf("delayed %d of %d runc %s calls while armed by %s", acted, calls, f.Subcommand, f.Delay)
		}
		return fmt.Sprintf("failed %d of %d runc %s calls while armed with exit code %d", acted, calls, f.Subcommand, f.ExitCode)
	}, f.Action)
}

func init() {
	RegisterFault(FaultKind{
		Kind:  "runtime-wrapper",
		Needs: []string{NeedWrapper},
		Draw: func(rng *rand.Rand) Fault {
			f := WrapperFault{Subcommand: pick(rng, control.Subcommands...), Action: pick(rng, "delay", "delay", "fail")}
			if f.Action == "delay" {
				f.Delay = pick(rng, 100*time.Millisecond, 500*time.Millisecond, 2*time.Second, 10*time.Second)
			} else {
				f.ExitCode = 1
			}
			return f
		},
		Parse: func(p map[string]string) (Fault, error) {
			r := readParams("runtime-wrapper", p, "subcommand", "action", "delay", "exit")
			f := WrapperFault{Subcommand: r.choice("subcommand", control.Subcommands...), Action: r.choice("action", "delay", "fail")}
			switch f.Action {
			case "delay":
				f.Delay = r.duration("delay", time.Millisecond, time.Minute)
				if _, has := p["exit"]; has {
					r.fail("exit is for action=fail, not delay")
				}
			case "fail":
				f.ExitCode = r.integer("exit", 1, 255)
				if _, has := p["delay"]; has {
					r.fail("delay is for action=delay, not fail")
				}
			}
			return f, r.err()
		},
	})
}
