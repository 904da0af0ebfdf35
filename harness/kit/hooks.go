package kit

import (
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Hooks are what a bug needs from the run around its containers when
// that is more than the runc under test: a daemon a parameter may put
// between relapse and runc, a host setting the trigger must find as the
// kernel left it, a detector that records the finding itself. A bug that
// needs none leaves them zero.
type Hooks struct {
	// Optional are components a parameter may add (a containerd for
	// engine=containerd): built only when a version is given for them.
	Optional []versions.Builder
	// Supports are the versions the bug runs with (`relapse scenarios`
	// prints them; relapse refuses others before anything is built).
	Supports []scenario.Support
	// Preconditions are what the node must hold before the run changes
	// anything (a sysctl the trigger lowers, no process left by another run).
	Preconditions func(scenario.Values) []scenario.Precondition
	// CheckPlan refuses parameters that make no sense with the versions
	// or node given (a containerd version for an engine that runs none).
	CheckPlan func(provider string, params scenario.Values, versions map[string]string) error
	// Sysctls are the kernel parameters the trigger changes (and the run
	// puts back): the suites check each reads as before after every spec.
	Sysctls []string
	// FindingBy names the detector that records the bug's finding, with
	// the evidence only it has (the stuck process's /proc snapshot),
	// while the trigger runs; the kit then records no second finding of
	// its own for a REPRODUCED verdict.
	FindingBy string
	// Claims says whether evidence the chaos explorer gathered, told
	// nothing about the bug, shows it (scenario.Claimer): pure, from the
	// observation alone, with the reasons.
	Claims func(scenario.Observed) (bool, []string)
}

// FindingDetector is the detector a REPRODUCED run's finding names: the
// bug's own name, or the detector of Hooks.FindingBy.
func (b *Bug) FindingDetector() string {
	if b.Hooks.FindingBy != "" {
		return b.Hooks.FindingBy
	}
	return b.Name()
}

// Components: the bug's component and the optional ones its parameters
// may ask for.
func (s *bugScenario) Components() []versions.Builder {
	return append([]versions.Builder{versions.RuncRecipe}, s.b.Hooks.Optional...)
}

// OptionalComponents names the components built only when a version is
// given (scenario.Optional).
func (s *bugScenario) OptionalComponents() []string {
	var names []string
	for _, o := range s.b.Hooks.Optional {
		names = append(names, o.Target().Name)
	}
	return names
}

// Supports is what every kit bug runs with (the runc relapse can build,
// so a version before it is refused before anything is built) and the
// bug's own ranges (scenario.Supporter; `relapse scenarios` prints them).
func (s *bugScenario) Supports() []scenario.Support {
	out := []scenario.Support{scenario.RuncBuildable}
	for _, sup := range s.b.Hooks.Supports {
		if sup != scenario.RuncBuildable {
			out = append(out, sup)
		}
	}
	return out
}

// Preconditions are the bug's (scenario.Preconditioned).
func (s *bugScenario) Preconditions(params scenario.Values) []scenario.Precondition {
	if s.b.Hooks.Preconditions == nil {
		return nil
	}
	return s.b.Hooks.Preconditions(params)
}

// CheckPlan is the bug's (scenario.PlanChecker).
func (s *bugScenario) CheckPlan(provider string, params scenario.Values, versions map[string]string) error {
	if s.b.Hooks.CheckPlan == nil {
		return nil
	}
	return s.b.Hooks.CheckPlan(provider, params, versions)
}

// Claims is the bug's (scenario.Claimer); a bug that declares none claims
// nothing.
func (s *bugScenario) Claims(o scenario.Observed) (bool, []string) {
	if s.b.Hooks.Claims == nil {
		return false, nil
	}
	return s.b.Hooks.Claims(o)
}
