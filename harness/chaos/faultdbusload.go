package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/relapse-dev/relapse/harness/run"
)

// DBusLoadFault churns transient systemd units through PID 1's D-Bus API
// while armed (DBusLoad), the load runc's systemd cgroup driver competes
// with.
type DBusLoadFault struct {
	// Rate is units started and stopped per second.
	Rate int
}

func (f DBusLoadFault) Kind() string { return "dbus-load" }

func (f DBusLoadFault) Params() map[string]string {
	return map[string]string{"rate": strconv.Itoa(f.Rate)}
}

func (f DBusLoadFault) Arm(ctx context.Context, r *run.Run, t Target) (Armed, error) {
	// The units' prefix names the run and the fault, so its undo stops
	// only its own (two loads of one schedule do not stop each other's).
	load := DBusLoad{Rate: float64(f.Rate), Duration: faultBound, Prefix: ruleID(run.NamePrefix + "chaos-" + r.Short())}
	lr, err := load.Start(ctx, t.Node, r.Ledger)
	if err != nil {
		return nil, fmt.Errorf("arming dbus-load: %w", err)
	}
	return &armed{
		disarm: func(ctx context.Context) error { _, err := lr.Undo(ctx); return err },
		saw: func() string {
			p := lr.Last()
			return fmt.Sprintf("%d transient units started, %d stopped, %d errors (%d/s asked)", p.Started, p.Stopped, p.Errors, f.Rate)
		},
	}, nil
}

func init() {
	RegisterFault(FaultKind{
		Kind: "dbus-load",
		Draw: func(rng *rand.Rand) Fault { return DBusLoadFault{Rate: pick(rng, 10, 25, 50, 100)} },
		Parse: func(p map[string]string) (Fault, error) {
			r := readParams("dbus-load", p, "rate")
			f := DBusLoadFault{Rate: r.integer("rate", 1, 1000)}
			return f, r.err()
		},
	})
}
