package explore

import (
	"context"
	"fmt"
	"sync"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// armedFaults are the faults a trial armed, disarmed newest first when
// the trial ends (containerd alone or a cluster: the same fault kinds).
type armedFaults struct {
	armMu sync.Mutex
	armed []chaos.Armed
	// had says a fault was armed in this trial: an operation late then
	// may be late because of it (relief).
	had bool
}

// arm arms the fault of step st against target. A fault that cannot be
// armed here ends neither the trial nor the exploration: the report's
// errors say which and why; only a step that does not parse is an error.
func (a *armedFaults) arm(ctx context.Context, env *scenario.Env, run int64, st Step, target chaos.Target) error {
	f, err := chaos.ParseFault(st.Fault, st.Params)
	if err != nil {
		return err
	}
	armed, err := f.Arm(ctx, env.Run, target)
	if err != nil {
		env.Error(fmt.Sprintf("run %d: step %s not armed: %v", run, st, err))
		return nil
	}
	a.armMu.Lock()
	a.armed = append(a.armed, armed)
	a.had = true
	a.armMu.Unlock()
	return nil
}

// relief is what a chaos.Deadline calls when an operation outlives its
// bound: with faults armed in this trial it removes them all (the rest
// of the trial runs without them) and says so, and the operation gets its
// bound again; a trial without faults has nothing to remove.
func (a *armedFaults) relief(ctx context.Context, env *scenario.Env, run int64) func() bool {
	return func() bool {
		a.armMu.Lock()
		had := a.had
		a.armMu.Unlock()
		if had {
			env.Logf("run %d: an operation outlived its bound with faults armed: removing them, it gets its bound again", run)
			a.disarm(ctx, env, run)
		}
		return had
	}
}

// disarm undoes every armed fault, newest first, and logs what each saw.
func (a *armedFaults) disarm(ctx context.Context, env *scenario.Env, run int64) {
	a.armMu.Lock()
	armed := a.armed
	a.armed = nil
	a.armMu.Unlock()
	for i := len(armed) - 1; i >= 0; i-- {
		if err := armed[i].Disarm(context.WithoutCancel(ctx)); err != nil {
			env.Error(fmt.Sprintf("run %d: disarming a fault: %v", run, err))
		}
		env.Logf("run %d: fault: %s", run, armed[i].Saw())
	}
}
