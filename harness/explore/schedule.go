package explore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/relapse-dev/relapse/harness/chaos"
)

// Workload actions a schedule composes. Each is generic: production
// clients do the same to a runtime every day.
const (
	// ActionChurn creates and starts tasks ("tasks", "concurrency"), in
	// containers with or without noNewPrivileges and a seccomp profile
	// ("profile": none, docker-default or large, as users run them).
	ActionChurn = "create-churn"
	// ActionExecStorm runs short execs into running tasks ("execs",
	// "concurrency").
	ActionExecStorm = "exec-storm"
	// ActionDelete kills and deletes every running task ("concurrency").
	ActionDelete = "delete"
	// ActionScrape starts scrape loops on containerd's /v1/metrics
	// ("loops") that run until the schedule ends, as a Prometheus does.
	ActionScrape = "scrape"
	// ActionFault arms a registered chaos fault ("kind" is the step's
	// Fault) until the schedule ends.
	ActionFault = "fault"
)

// Seccomp profiles a churn may give its containers.
var profiles = []string{"none", "docker-default", "large"}

// Step is one step of a schedule.
type Step struct {
	Action string `json:"action"`
	// Fault is the fault kind of an ActionFault step.
	Fault  string            `json:"fault,omitempty"`
	Params map[string]string `json:"params,omitempty"`
}

// String is the step in one line, parameters sorted.
func (s Step) String() string {
	name := s.Action
	if s.Action == ActionFault {
		name = "fault " + s.Fault
	}
	keys := make([]string, 0, len(s.Params))
	for k := range s.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var kv []string
	for _, k := range keys {
		kv = append(kv, k+"="+s.Params[k])
	}
	if len(kv) == 0 {
		return name
	}
	return name + " " + strings.Join(kv, " ")
}

// IsFault says whether the step arms a fault.
func (s Step) IsFault() bool { return s.Action == ActionFault }

// Int reads an integer parameter, def when absent or unreadable.
func (s Step) Int(name string, def int) int {
	if v, err := strconv.Atoi(s.Params[name]); err == nil {
		return v
	}
	return def
}

// Schedule is what one trial runs, in order. Seed is the schedule's own
// seed (derived from the run's seed and the trial number).
type Schedule struct {
	Seed  uint64 `json:"seed"`
	Steps []Step `json:"steps"`
}

// Faults counts the fault steps.
func (s Schedule) Faults() int {
	n := 0
	for _, st := range s.Steps {
		if st.IsFault() {
			n++
		}
	}
	return n
}

// Lines is the schedule one step a line, numbered from 1.
func (s Schedule) Lines() []string {
	out := make([]string, len(s.Steps))
	for i, st := range s.Steps {
		out[i] = fmt.Sprintf("%d. %s", i+1, st)
	}
	return out
}

// Without is the schedule with step i removed.
func (s Schedule) Without(i int) Schedule {
	return Schedule{Seed: s.Seed, Steps: slices.Delete(slices.Clone(s.Steps), i, i+1)}
}

// TrialSeed derives trial i's schedule seed from the run's seed, so
// `--seed N --trial I` replays one trial without the ones before it.
func TrialSeed(seed uint64, trial int) uint64 {
	// splitmix64 of the pair: neighbouring seeds give unrelated schedules.
	z := seed + uint64(trial+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Limits bound what Generate draws.
type Limits struct {
	// MinSteps and MaxSteps bound a schedule's length.
	MinSteps, MaxSteps int
	// FaultShare is the chance a step is a fault (when kinds are given).
	FaultShare float64
	// MaxTasks bounds one churn's tasks.
	MaxTasks int
	// Has is what the stack offers faults ("daemon", "shims"): a kind
	// needing more is not drawn, and a drawn fault whose own needs (a
	// Needs method) exceed it is drawn again.
	Has []string
}

// DefaultLimits keep one trial near a minute on a loaded 2-core machine.
// The stack offers faults the daemon, its shims and the runtime wrapper
// every trial installs between containerd and runc.
var DefaultLimits = Limits{MinSteps: 3, MaxSteps: 8, FaultShare: 0.25, MaxTasks: 80,
	Has: []string{chaos.NeedDaemon, chaos.NeedShims, chaos.NeedWrapper}}

// redraws bounds how often a fault the stack cannot take is drawn again
// before the step becomes a workload step.
const redraws = 8

// Generate draws a schedule from seed: the same seed and kinds give the
// same schedule on every machine (math/rand/v2's PCG is specified, and
// kinds come sorted from chaos.FaultKinds). Every schedule holds at least
// one churn: without creates there is nothing for the invariants to see.
func Generate(seed uint64, kinds []chaos.FaultKind, l Limits) Schedule {
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	n := l.MinSteps + rng.IntN(l.MaxSteps-l.MinSteps+1)
	s := Schedule{Seed: seed}
	kinds = slices.DeleteFunc(slices.Clone(kinds), func(k chaos.FaultKind) bool { return !l.has(k.Needs) })
	churns := 0
	for range n {
		if len(kinds) > 0 && rng.Float64() < l.FaultShare {
			if f := l.drawFault(rng, kinds); f != nil {
				s.Steps = append(s.Steps, Step{Action: ActionFault, Fault: f.Kind(), Params: f.Params()})
				continue
			}
		}
		st := drawWorkload(rng, l)
		if st.Action == ActionChurn {
			churns++
		}
		s.Steps = append(s.Steps, st)
	}
	if churns == 0 {
		s.Steps = append(s.Steps, drawChurn(rng, l))
	}
	return s
}

// has says whether the stack offers everything in needs.
func (l Limits) has(needs []string) bool {
	for _, n := range needs {
		if !slices.Contains(l.Has, n) {
			return false
		}
	}
	return true
}

// drawFault draws a fault the stack can take, or nil after redraws tries.
func (l Limits) drawFault(rng *rand.Rand, kinds []chaos.FaultKind) chaos.Fault {
	for range redraws {
		f := kinds[rng.IntN(len(kinds))].Draw(rng)
		if own, ok := f.(interface{ Needs() []string }); ok && !l.has(own.Needs()) {
			continue
		}
		return f
	}
	return nil
}

func drawWorkload(rng *rand.Rand, l Limits) Step {
	switch p := rng.IntN(100); {
	case p < 40:
		return drawChurn(rng, l)
	case p < 65:
		return Step{Action: ActionExecStorm, Params: map[string]string{
			"execs": strconv.Itoa(5 + rng.IntN(36)), "concurrency": strconv.Itoa(1 + rng.IntN(8))}}
	case p < 85:
		return Step{Action: ActionScrape, Params: map[string]string{"loops": strconv.Itoa(1 + rng.IntN(4))}}
	default:
		return Step{Action: ActionDelete, Params: map[string]string{"concurrency": strconv.Itoa(1 + rng.IntN(8))}}
	}
}

func drawChurn(rng *rand.Rand, l Limits) Step {
	return Step{Action: ActionChurn, Params: map[string]string{
		"tasks":       strconv.Itoa(10 + rng.IntN(max(l.MaxTasks-9, 1))),
		"concurrency": strconv.Itoa(1 + rng.IntN(8)),
		"profile":     profiles[rng.IntN(len(profiles))],
		"nnp":         strconv.FormatBool(rng.IntN(2) == 0),
	}}
}

// Check reads a schedule back (from a report): every action known, every
// fault's kind registered and its parameters valid.
func (s Schedule) Check() error {
	for i, st := range s.Steps {
		switch st.Action {
		case ActionChurn, ActionExecStorm, ActionDelete, ActionScrape:
		case ActionFault:
			if _, err := chaos.ParseFault(st.Fault, st.Params); err != nil {
				return fmt.Errorf("step %d (%s): %w", i+1, st, err)
			}
		default:
			return fmt.Errorf("step %d: unknown action %q (known: %s, %s, %s, %s, %s)", i+1, st.Action,
				ActionChurn, ActionExecStorm, ActionDelete, ActionScrape, ActionFault)
		}
	}
	return nil
}
