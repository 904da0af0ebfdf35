package scenario

import (
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Support is the versions of one component a scenario runs with, and why
// no others: relapse refuses a version outside before anything is built or
// changed, rather than letting the run fail half-way or decide nothing.
type Support struct {
	Component string
	// Range is a semantic version constraint (">= 1.5.0"); empty for a
	// rule that is no range (which versions go together, what was
	// measured), which CheckPlan enforces and Why states.
	Range string
	// Why says what stops other versions, for the refusal and for
	// `relapse scenarios`.
	Why string
}

// Supporter is a scenario that declares the versions it runs with.
type Supporter interface {
	Supports() []Support
}

// Optional is a scenario that builds some of its components only when a
// version is given for them, and runs without them otherwise (runc-pipe-hang
// builds a containerd only for engine=containerd with a containerd version;
// without one it drives Debian's).
type Optional interface {
	// OptionalComponents names them.
	OptionalComponents() []string
}

// IsOptional says whether s builds component only when a version is given.
func IsOptional(s Scenario, component string) bool {
	o, ok := s.(Optional)
	if !ok {
		return false
	}
	for _, name := range o.OptionalComponents() {
		if name == component {
			return true
		}
	}
	return false
}

// CheckSupport refuses a version outside the range s declares for its
// component, naming the range and why. Versions are as resolved ("v2.4.2"),
// each component's by name; one that is not yet a version (a selector
// before the proxy is asked, a git ref before it is fetched) is checked
// once it is. A pre-release or git build is judged by the release it
// leads to (v2.5.0-beta.1 as 2.5.0): a build of main is the next release.
func CheckSupport(s Scenario, versions map[string]string) error {
	sup, ok := s.(Supporter)
	if !ok {
		return nil
	}
	var problems []string
	for _, want := range sup.Supports() {
		given, ok := versions[want.Component]
		if !ok || want.Range == "" {
			continue
		}
		v, err := semver.NewVersion(strings.TrimPrefix(given, "v"))
		if err != nil {
			continue
		}
		c, err := semver.NewConstraint(want.Range)
		if err != nil {
			return fmt.Errorf("scenario %s declares %s %q: %w", s.Name(), want.Component, want.Range, err)
		}
		if c.Check(v) {
			continue
		}
		// A range of releases does not match pre-releases at all: judge
		// one by the release it leads to. A range that names a
		// pre-release (">= 1.0.0-rc91") compares them as they are.
		if v.Prerelease() != "" && !strings.Contains(want.Range, "-") {
			if core, err := semver.NewVersion(fmt.Sprintf("%d.%d.%d", v.Major(), v.Minor(), v.Patch())); err == nil && c.Check(core) {
				continue
			}
		}
		problems = append(problems, fmt.Sprintf("%s %s is outside %s: %s", want.Component, strings.TrimPrefix(given, "v"), want.Range, want.Why))
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("scenario %s does not run with these versions: %s (see `relapse scenarios`)", s.Name(), strings.Join(problems, "; "))
}

// DescribeSupport is what `relapse scenarios` prints about the versions s
// runs with, one line per declared range.
func DescribeSupport(s Scenario) []string {
	sup, ok := s.(Supporter)
	if !ok {
		return nil
	}
	var lines []string
	for _, want := range sup.Supports() {
		line := fmt.Sprintf("%s %s: %s", want.Component, want.Range, want.Why)
		if want.Range == "" {
			line = want.Component + ": " + want.Why
		}
		if IsOptional(s, want.Component) {
			line += " (built only when a " + want.Component + " version is given)"
		}
		lines = append(lines, line)
	}
	return lines
}

// RuncBuildable is the runc relapse can build: releases before v1.0.0-rc91
// have no go.mod, so the module proxy serves no dependency list to build
// them with.
var RuncBuildable = Support{Component: "runc", Range: ">= 1.0.0-rc91",
	Why: "relapse builds runc from its Go module, and releases before v1.0.0-rc91 have no go.mod"}

// ContainerdBuildable is the containerd relapse can build and drive:
// releases before 1.5.0 vendor through vendor.conf and have no go.mod.
var ContainerdBuildable = Support{Component: "containerd", Range: ">= 1.5.0",
	Why: "relapse builds containerd from its Go module (1.x, or /v2 from 2.0), and releases before 1.5.0 have no go.mod; " +
		"its config is written in the layout each build reads (version 2 for 1.x, 3 for 2.0-2.2, 4 from 2.3)"}
