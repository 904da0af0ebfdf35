package kit

import (
	"fmt"

	"github.com/relapse-dev/relapse/harness/scenario"
)

// Verify is what every bug package's test asks of each of its bugs: an
// identity Check accepts, registered under its derived name, specs on both
// sides of the fix, nightly cells, and a verdict table its Classify
// reaches. One rule for runcbugs, containerdbugs and what follows.
func Verify(b *Bug) []error {
	var errs []error
	if err := Check(b); err != nil {
		errs = append(errs, fmt.Errorf("identity: %w", err))
	}
	if s, err := scenario.Lookup(b.Name()); err != nil || s.Bug().ID != b.ID {
		errs = append(errs, fmt.Errorf("not registered as %s: %v", b.Name(), err))
	}
	kinds := map[CaseKind]bool{}
	for _, c := range Cases(b) {
		kinds[c.Kind] = true
	}
	// A bug whose affected releases relapse cannot build shows its
	// affected side with the fix reverted.
	if !(kinds[AffectedCase] || b.AffectedUnbuildable != "" && kinds[FixRevertCase]) || !kinds[FixedCase] {
		errs = append(errs, fmt.Errorf("specs: want an affected and a fixed case, got %+v", Cases(b)))
	}
	if len(Groups(b)) == 0 {
		errs = append(errs, fmt.Errorf("no nightly cells"))
	}
	return append(errs, CheckExamples(b)...)
}
