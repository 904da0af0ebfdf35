package scenario

import (
	"context"
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/registry"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Scenario is one reproducible bug.
type Scenario interface {
	// Name is the CLI name ("runc-pipe-hang").
	Name() string
	Bug() report.Bug
	// Components lists the components whose versions the scenario takes.
	// The bug's own component (Bug().Component) is among them unless the
	// node brings it (systemd), in which case the scenario records the
	// version it saw with Env.Observe.
	Components() []versions.Builder
	Params() []Param
	// Sampling says what one repetition makes afresh and how many clean
	// repetitions rule the bug out: one for a deterministic bug, enough to
	// exclude a measured rate for a racy one.
	Sampling() report.Sampling
	// Run is one repetition: it triggers the bug and decides. REPRODUCED
	// only from a detector's classification, NOT REPRODUCED only when the
	// trigger was shown to be in force, INCONCLUSIVE with a reason
	// otherwise; an error means the harness itself failed. A repetition
	// that reached a decision keeps it even if ctx ends afterwards.
	Run(ctx context.Context, env *Env) (report.Result, string, error)
}

// Builder is the builder of the component s builds under name (nil when
// it builds none by that name).
func Builder(s Scenario, name string) versions.Builder {
	for _, b := range s.Components() {
		if b.Target().Name == name {
			return b
		}
	}
	return nil
}

// WithDefaults is a scenario that picks versions for components the user
// need not name (e.g. the runc under a containerd bug).
type WithDefaults interface {
	DefaultVersions() map[string]string
}

// WithDependentDefaults is a scenario whose default version of a component
// depends on the versions chosen for the components before it in
// Components (the containerd a cluster's node runs follows its Kubernetes:
// containerd 2.x serves no CRI v1alpha2, the only CRI kubelet spoke before
// 1.20). chosen holds them normalized (a selector or git ref as given).
type WithDependentDefaults interface {
	DefaultVersionFor(component string, chosen map[string]string) (string, bool)
}

// NodeRequirer is a scenario that runs only on some node providers (the
// systemd scenarios need systemd as PID 1, which only VM nodes have here).
type NodeRequirer interface {
	// CheckNode fails, saying which providers would do, for one that won't.
	CheckNode(provider string) error
}

// PlanChecker is a scenario whose parameters only make sense with some
// versions or nodes (dockershim exists only before Kubernetes 1.24; kind
// clusters run on the local node): CheckPlan sees the node provider and
// the resolved parameters and versions before anything runs.
type PlanChecker interface {
	CheckPlan(provider string, params Values, versions map[string]string) error
}

// FixSwitcher is a scenario whose parameters can turn its bug's fix off
// at run time (a kubelet fix behind a feature gate): such a run is a
// canary, expected to reproduce on a fixed release as a build with the fix
// reverted is, and its verdict must not count as a relapse.
type FixSwitcher interface {
	// FixTurnedOff says how params turn the bug's fix off ("kubelet
	// feature gate ExecProbeTimeout=false"), "" when they do not.
	FixTurnedOff(params Values) string
}

// NodeSizer is a scenario whose node needs more memory than a VM
// provider's default (a whole Kubernetes cluster runs on it).
type NodeSizer interface {
	NodeMemoryMiB() int
}

// DiskProvider is a scenario that gives VM nodes disks of its own, made
// from its built components before the node boots.
type DiskProvider interface {
	NodeDisks(ctx context.Context, env *Env) ([]provision.NodeDisk, error)
}

// Env is what a running scenario gets: the run (node, directories,
// journal, ledger, cleanups, report), the built components and its
// validated parameters.
type Env struct {
	*run.Run
	Artifacts map[string]versions.Artifact
	Params    Values
}

// Artifact returns a built component, or an error naming what is missing
// (a scenario asked for a component it did not declare).
func (e *Env) Artifact(component string) (versions.Artifact, error) {
	a, ok := e.Artifacts[component]
	if !ok {
		return a, fmt.Errorf("no %s build in this run (the scenario must list it in Components)", component)
	}
	return a, nil
}

// Scenarios is every scenario linked into the binary; scenario packages
// add themselves in init.
var Scenarios = registry.New[Scenario]("scenario")

// Register adds a scenario; scenario packages call it from init.
func Register(s Scenario) { Scenarios.Add(s) }

// Alias makes Lookup find the scenario registered as name under an older
// name too; Names lists it once.
func Alias(alias, name string) { Scenarios.Alias(alias, name) }

// Names lists the registered scenarios.
func Names() []string { return Scenarios.Names() }

// Lookup finds a scenario by name; the error lists the known ones.
func Lookup(name string) (Scenario, error) {
	s, err := Scenarios.Lookup(name)
	if err != nil && isLeftOut(name) {
		return nil, fmt.Errorf("scenario %q is %w: %w", name, ErrNotLinked, err)
	}
	return s, err
}

// ResolveParams merges user values over defaults and validates every
// value, defaults included; an unknown name fails with the list of known
// ones, a bad value with what would be right.
func ResolveParams(s Scenario, given map[string]string) (Values, error) {
	known := map[string]Param{}
	out := map[string]string{}
	var names []string
	for _, p := range s.Params() {
		known[p.Name] = p
		out[p.Name] = p.Default
		names = append(names, p.Name)
	}
	for k, v := range given {
		if _, ok := known[k]; !ok {
			return Values{}, fmt.Errorf("scenario %s has no parameter %q: its parameters are %s", s.Name(), k, strings.Join(names, ", "))
		}
		out[k] = v
	}
	for _, name := range names {
		p := known[name]
		if err := p.check(out[name]); err != nil {
			if _, user := given[name]; !user {
				return Values{}, fmt.Errorf("scenario %s: default of parameter %s=%q: %w", s.Name(), name, out[name], err)
			}
			return Values{}, fmt.Errorf("parameter %s=%q: %w", name, out[name], err)
		}
	}
	return Values{m: out, params: known}, nil
}
