package report

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Expect says what the bug's affected range predicts for a version of its
// component, and why in one sentence. A version below every lower bound of
// the range is "before the regression", not "fixed".
func Expect(bug Bug, version string) (Result, string, error) {
	v, err := semver.NewVersion(strings.TrimPrefix(version, "v"))
	if err != nil {
		return Inconclusive, "", fmt.Errorf("version %q: %w", version, err)
	}
	c, err := semver.NewConstraint(bug.Affected)
	if err != nil {
		return Inconclusive, "", fmt.Errorf("bug %s affected range %q: %w", bug.ID, bug.Affected, err)
	}
	if c.Check(v) {
		return Reproduced, fmt.Sprintf("%s %s is within the affected range %s", bug.Component, v, bug.Affected), nil
	}
	if BeforeRange(bug.Affected, v) {
		why := fmt.Sprintf("%s %s is before the regression (affected range %s", bug.Component, v, bug.Affected)
		if bug.Introduced != "" {
			why += "; introduced in " + bug.Introduced
		}
		return NotReproduced, why + ")", nil
	}
	return NotReproduced, fmt.Sprintf("%s %s is outside the affected range %s (fixed: %s)", bug.Component, v, bug.Affected, bug.Fixed), nil
}

// ExpectReverted is Expect for a build whose patches take upstream fixes
// out: when one of them is the bug's own fix, the bug is expected back
// whatever the version says.
func ExpectReverted(bug Bug, version string, reverted []string) (Result, string, error) {
	for _, fix := range reverted {
		if bug.Fix != "" && fix == bug.Fix {
			return Reproduced, fmt.Sprintf("%s %s is built with its fix %s taken out by a patch, so the bug is expected back", bug.Component, strings.TrimPrefix(version, "v"), fix), nil
		}
	}
	return Expect(bug, version)
}

var lowerBound = regexp.MustCompile(`>=?\s*v?([0-9][0-9A-Za-z.+-]*)`)

// BeforeRange is true when v is below every lower bound (>= X, > X) of a
// constraint; a constraint without lower bounds has nothing before it.
func BeforeRange(constraint string, v *semver.Version) bool {
	bounds := lowerBound.FindAllStringSubmatch(constraint, -1)
	if len(bounds) == 0 {
		return false
	}
	for _, b := range bounds {
		lo, err := semver.NewVersion(b[1])
		if err != nil || !v.LessThan(lo) {
			return false
		}
	}
	return true
}

// ExpectTurnedOff is Expect for a run whose settings turn the bug's fix
// off (how says which: "kubelet feature gate ExecProbeTimeout=false"): the
// bug is expected back whatever the version says, as with a revert.
func ExpectTurnedOff(bug Bug, version, how string) (Result, string) {
	return Reproduced, fmt.Sprintf("%s %s runs with its fix %s turned off (%s), so the bug is expected back", bug.Component, strings.TrimPrefix(version, "v"), bug.Fix, how)
}
