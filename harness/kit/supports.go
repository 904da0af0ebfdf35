package kit

import (
	"fmt"

	"github.com/relapse-dev/relapse/harness/scenario"
)

// checkBuildable wants AffectedUnbuildable declared exactly when relapse
// cannot build LastAffected: a spec or cell on it could only fail to
// build, and a revert standing in for a release that builds hides it.
func checkBuildable(b *Bug) error {
	err := scenario.CheckSupport(&bugScenario{b: b, name: b.Name()}, map[string]string{b.Component: b.LastAffected})
	switch {
	case err != nil && b.AffectedUnbuildable == "":
		return fmt.Errorf("LastAffected %s: relapse cannot build it (%s): say why in AffectedUnbuildable, and the Revert is the affected side", b.LastAffected, scenario.RuncBuildable.Why)
	case err == nil && b.AffectedUnbuildable != "":
		return fmt.Errorf("AffectedUnbuildable: relapse builds LastAffected %s; drop it and the specs run that release", b.LastAffected)
	}
	return nil
}
