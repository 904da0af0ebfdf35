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
}

// arm arms the fault of step st against target. A fault that cannot be
// armed here ends neither the trial nor the exploration: the report's
// errors say which and why; only a step that does not parse is an error.
func (a *armedFaults) arm(ctx context.Context, env *scenario.Env, trial int64, st Step, target chaos.Target) error {
	f, err := chaos.ParseFault(st.Fault, st.Params)
	if err != nil {
		return err
	}
	armed, err := f.Arm(ctx, env.Run, target)
	if err != nil {
		env.Error(fmt.Sprintf("trial %d: step %s not armed: %v", trial, st, err))
		return nil
	}
	a.armMu.Lock()
	a.armed = append(a.armed, armed)
	a.armMu.Unlock()
	return nil
}

// disarm undoes every armed fault, newest first, and logs what each saw.
func (a *armedFaults) disarm(ctx context.Context, env *scenario.Env, trial int64) {
	a.armMu.Lock()
	armed := a.armed
	a.armed = nil
	a.armMu.Unlock()
	for i := len(armed) - 1; i >= 0; i-- {
		if err := armed[i].Disarm(context.WithoutCancel(ctx)); err != nil {
			env.Error(fmt.Sprintf("trial %d: disarming a fault: %v", trial, err))
		}
		env.Logf("trial %d: fault: %s", trial, armed[i].Saw())
	}
}
