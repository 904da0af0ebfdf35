package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/run"
)

// Fault is one generic fault the chaos explorer composes into schedules:
// told nothing about a bug, it arms faults like these against a pinned
// stack and watches generic invariants. A Fault is a value with its
// parameters; Params and the kind's Parse round-trip it, so a report's
// seed and schedule replay exactly what ran.
type Fault interface {
	// Kind names the fault's family in schedules and reports
	// ("pipe-pages", "strace-delay", "kill").
	Kind() string
	// Params are its parameters, what its kind's Parse reads back.
	Params() map[string]string
	// Arm makes the change on the target. Every host change is owned
	// through r (journaled before it is made, undone through the ledger),
	// so a killed explorer's leftovers are repaired by the next run.
	Arm(ctx context.Context, r *run.Run, t Target) (Armed, error)
}

// Armed is a fault in effect.
type Armed interface {
	// Disarm removes it (idempotent); the run's ledger would too.
	Disarm(ctx context.Context) error
	// Saw says what it did so far, one line ("delayed 14 umount2 calls
	// of containerd-shim by 200ms").
	Saw() string
}

// Target is the stack under test a fault is armed against.
type Target struct {
	Node node.Node
	// Runc is the runc binary the engine runs.
	Runc string
	// Dir is a directory in the run's on Node for the faults' own files
	// (strace output, stress-ng's); made when missing. Each armed fault
	// makes a private directory of its own in it.
	Dir string
	// Daemon is the engine daemon's PID (containerd), 0 with no daemon.
	Daemon func(ctx context.Context) (int, error)
	// Shims lists the PIDs of the engine's shims at the moment asked.
	Shims func(ctx context.Context) ([]int, error)
	// Wrapper is the runtime wrapper the engine runs as its runc
	// (InstallWrapper), nil when the engine runs Runc itself.
	Wrapper *Wrapper
}

// What a fault may need of its target, in FaultKind.Needs and NeedsOf.
const (
	NeedDaemon  = "daemon"  // Target.Daemon
	NeedShims   = "shims"   // Target.Shims
	NeedWrapper = "wrapper" // Target.Wrapper
)

// NeedsOf is what one fault needs of its target: its kind's Needs and,
// for a kind whose faults differ (a strace on the daemon, the shims or
// runc), the fault's own (a Needs method). The explorer draws again when
// a drawn fault needs what its stack lacks, so a seed still draws the
// same schedule for the same stack.
func NeedsOf(f Fault) []string {
	var needs []string
	faultKindsMu.Lock()
	needs = append(needs, faultKinds[f.Kind()].Needs...)
	faultKindsMu.Unlock()
	if own, ok := f.(interface{ Needs() []string }); ok {
		for _, n := range own.Needs() {
			if !slices.Contains(needs, n) {
				needs = append(needs, n)
			}
		}
	}
	return needs
}

// FaultKind is a registered family of faults: how a seeded schedule
// draws one and how a report's parameters are read back.
type FaultKind struct {
	Kind string
	// Needs names what the target must have for every fault of the kind
	// (NeedDaemon, NeedShims, NeedWrapper); the explorer draws only kinds
	// its stack can take, and checks a drawn fault's own with NeedsOf.
	Needs []string
	// Draw picks one fault of the kind from rng.
	Draw func(rng *rand.Rand) Fault
	// Parse reads Params back, with an error naming a bad one.
	Parse func(params map[string]string) (Fault, error)
}

var (
	faultKindsMu sync.Mutex
	faultKinds   = map[string]FaultKind{}
)

// RegisterFault adds a fault family (from an init); a kind registered
// twice is a programming error.
func RegisterFault(k FaultKind) {
	faultKindsMu.Lock()
	defer faultKindsMu.Unlock()
	if _, dup := faultKinds[k.Kind]; dup || k.Kind == "" || k.Draw == nil || k.Parse == nil {
		panic(fmt.Sprintf("chaos: fault kind %q registered twice or incomplete", k.Kind))
	}
	faultKinds[k.Kind] = k
}

// FaultKinds are the registered families, sorted by kind so a seed draws
// the same schedule on every machine.
func FaultKinds() []FaultKind {
	faultKindsMu.Lock()
	defer faultKindsMu.Unlock()
	out := make([]FaultKind, 0, len(faultKinds))
	for _, k := range faultKinds {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b FaultKind) int {
		if a.Kind < b.Kind {
			return -1
		}
		if a.Kind > b.Kind {
			return 1
		}
		return 0
	})
	return out
}

// ParseFault reads a fault back from its kind and parameters.
func ParseFault(kind string, params map[string]string) (Fault, error) {
	faultKindsMu.Lock()
	k, ok := faultKinds[kind]
	faultKindsMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown fault kind %q (known: %v)", kind, kindNames())
	}
	return k.Parse(params)
}

func kindNames() []string {
	var names []string
	for _, k := range FaultKinds() {
		names = append(names, k.Kind)
	}
	return names
}
