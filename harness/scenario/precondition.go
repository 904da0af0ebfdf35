package scenario

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/relapse-dev/relapse/harness/node"
)

// Precondition is something a scenario relies on being true of its node
// before the run changes anything: a kernel parameter at a usable value,
// no leftover of an earlier run in the way. Check only reads the node.
type Precondition struct {
	// Name says what is checked, for the report ("fs.pipe-user-pages-soft
	// high enough for the control container").
	Name string
	// Check returns nil when the precondition holds, an *Unmet when it
	// does not, and any other error when the node could not be read.
	Check func(ctx context.Context, n node.Node) error
}

// Unmet is a precondition that does not hold: what was found, why the
// scenario cannot work with it, and the command that fixes it.
type Unmet struct {
	Found string
	Why   string
	Fix   string
}

func (u *Unmet) Error() string {
	return fmt.Sprintf("%s: %s; fix: %s", u.Found, u.Why, u.Fix)
}

// Preconditioned is a scenario that declares what its node must offer;
// the run checks it after taking the host lock and repairing what killed
// runs left, and before it changes anything.
type Preconditioned interface {
	Preconditions(params Values) []Precondition
}

// CheckPreconditions checks every precondition the scenario declares on
// the node. It returns the ones that hold (their names) and the ones that
// do not; err is for a node that could not be read.
func CheckPreconditions(ctx context.Context, s Scenario, params Values, n node.Node) (held []string, unmet []*Unmet, err error) {
	pc, ok := s.(Preconditioned)
	if !ok {
		return nil, nil, nil
	}
	for _, p := range pc.Preconditions(params) {
		cerr := p.Check(ctx, n)
		var u *Unmet
		switch {
		case cerr == nil:
			held = append(held, p.Name)
		case errors.As(cerr, &u):
			unmet = append(unmet, u)
		default:
			return held, unmet, fmt.Errorf("checking %s on %s: %w", p.Name, n.Name(), cerr)
		}
	}
	return held, unmet, nil
}

// SysctlAtLeast holds when the kernel parameter key is 0 (no limit) or at
// least min; why says what the scenario needs it for.
func SysctlAtLeast(key string, least int, why string) Precondition {
	return Precondition{Name: fmt.Sprintf("%s is 0 or at least %d", key, least), Check: func(ctx context.Context, n node.Node) error {
		v, err := node.ReadSysctl(ctx, n, key)
		if err != nil {
			return err
		}
		got, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s is %q, not a number", key, v)
		}
		if got == 0 || got >= least {
			return nil
		}
		return &Unmet{Found: fmt.Sprintf("%s is %d on %s", key, got, n.Name()), Why: why,
			Fix: fmt.Sprintf("sysctl -w %s=%d", key, least)}
	}}
}

// NoProcessNamed holds when no live process on the node has one of the
// comm names; what says what such a process is ("a runc init") and why
// what it does to the scenario. The run has started nothing yet, so any
// such process is from elsewhere.
func NoProcessNamed(what, why string, comms ...string) Precondition {
	return Precondition{Name: "no " + what + " from elsewhere", Check: func(ctx context.Context, n node.Node) error {
		procs, err := n.Processes(ctx)
		if err != nil {
			return err
		}
		var pids, shown []string
		for _, p := range procs {
			if p.State == "Z" {
				continue // a zombie holds nothing; its parent reaps it
			}
			for _, c := range comms {
				if p.Comm == c {
					pids = append(pids, strconv.Itoa(p.PID))
					shown = append(shown, fmt.Sprintf("pid %d (%s, state %s, wchan %s)", p.PID, p.Comm, p.State, p.Wchan))
				}
			}
		}
		if len(pids) == 0 {
			return nil
		}
		sort.Strings(pids)
		return &Unmet{Found: fmt.Sprintf("%d %s already running on %s: %s", len(pids), what, n.Name(), strings.Join(shown, "; ")),
			Why: why, Fix: "kill -9 " + strings.Join(pids, " ")}
	}}
}
