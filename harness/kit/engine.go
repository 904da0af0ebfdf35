package kit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Engine is a daemon a bug of another component than runc runs under
// (containerd; later kubelet): the kit builds the version under test,
// starts it on the run's node with the kit's runc before the control
// runs, and hands it to the bug through Run.Engine. An engine lives in
// its own package (harness/ctrdkit for containerd) that registers it from
// init, so the kit and the runc bugs stay free of the engine's client
// (the lean build leaves it out) and a bug package that imports the
// engine's package gets it linked.
//
// A bug declares it by its Component: a bug whose Component names a
// registered engine runs under it. Everything the kit derives for a runc
// bug (specs, nightly cells, bisect endpoints, the report's record) it
// derives the same way from the engine's component.
type Engine struct {
	// Component is the component whose version decides ("containerd").
	Component string
	// Recipe builds it; the kit builds runc too (the engine runs the
	// kit's runc).
	Recipe versions.Builder
	// Supports are the versions it runs with (scenario.Supporter).
	Supports []scenario.Support
	// Defaults are the versions of the other components a bug runs with
	// unless told otherwise ({"runc": "1.1.12"}); a bug's Pins win.
	Defaults map[string]string
	// Start starts the engine for one run (registering its teardown with
	// r.Env) and returns what bugs reach through r.Engine: the engine
	// package's own type. It adds the daemon's start to the reproducer
	// (r.Script).
	Start func(ctx context.Context, r *Run) (any, error)
	// Reproducer is the line the reproducer starts with, saying where to
	// run it and with what ("Run as root in the report directory, ...").
	Reproducer string
	// Offers are what a bug may need of it beyond a bare daemon (Bug.Needs;
	// Start asks r.Needs).
	Offers []string
}

// engines are the registered engines by component.
var engines = map[string]*Engine{}

// RegisterEngine makes bugs of e.Component run under e; call it from the
// engine package's init. A second engine for one component is a
// programming error.
func RegisterEngine(e *Engine) {
	if e.Component == "" || e.Component == "runc" || e.Recipe == nil || e.Start == nil {
		panic(fmt.Sprintf("kit: engine %q: want a component other than runc, its Recipe and Start", e.Component))
	}
	if _, dup := engines[e.Component]; dup {
		panic("kit: a second engine for " + e.Component)
	}
	engines[e.Component] = e
}

// nodeScenario is a bug run on the node: under its engine when its
// component has one, else with the runc under test alone.
func nodeScenario(b *Bug) scenario.Scenario {
	s := &bugScenario{b: b, name: b.Name()}
	if e := engineOf(b); e != nil {
		return &engineScenario{bugScenario: s, e: e}
	}
	return s
}

// engineOf is the engine a bug runs under (nil for a runc bug).
func engineOf(b *Bug) *Engine { return engines[b.Component] }

// components are what a Component may name: runc and the registered
// engines.
func components() []string {
	return append(slices.Clone(nodeComponents), slices.Sorted(maps.Keys(engines))...)
}

// checkComponent says what is wrong with a bug's Component and Needs.
func checkComponent(b *Bug) error {
	if !slices.Contains(components(), b.Component) {
		return fmt.Errorf("field Component %q: the kit runs bugs of %s (an engine's package registers it: import it from the bug's package)",
			b.Component, strings.Join(components(), ", "))
	}
	var offers []string
	if e := engineOf(b); e != nil {
		offers = e.Offers
	}
	for _, n := range b.Needs {
		if !slices.Contains(offers, n) {
			return fmt.Errorf("field Needs %q: the %s engine offers %s", n, b.Component, orText(strings.Join(offers, ", "), "nothing beyond its daemon"))
		}
	}
	return nil
}

// Needs says whether the bug needs what of its engine (Bug.Needs).
func (r *Run) Needs(what string) bool { return slices.Contains(r.bug.Needs, what) }

// Engine is what the bug's engine's Start returned (nil for a runc bug):
// the engine package's accessor (ctrdkit.Of) asserts its type.
func (r *Run) Engine() any { return r.engine }

// engineScenario is a bug that runs under an engine: it builds the
// engine's component too, and says which versions of it run and with
// which runc.
type engineScenario struct {
	*bugScenario
	e *Engine
}

func (s *engineScenario) Components() []versions.Builder {
	return []versions.Builder{s.e.Recipe, versions.RuncRecipe}
}

func (s *engineScenario) Supports() []scenario.Support { return s.e.Supports }

// DefaultVersions are the engine's defaults with the bug's pins over them.
func (s *engineScenario) DefaultVersions() map[string]string {
	d := maps.Clone(s.e.Defaults)
	if d == nil {
		d = map[string]string{}
	}
	maps.Copy(d, s.b.Pins)
	return d
}

// ScriptUndo adds a line the reproducer runs on exit (stopping a daemon
// it started, removing what it made).
func (r *Run) ScriptUndo(line string) { r.undo = append(r.undo, line) }
