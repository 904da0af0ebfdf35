package kit

import (
	"errors"
	"fmt"

	"github.com/relapse-dev/relapse/harness/scenario"
)

// Audit says everything a registered declaration lacks, for the unit
// test of each package declaring bugs: an identity Check accepts, its
// scenario registered under its derived name, specs on both sides of the
// fix, nightly cells, and a verdict table its Classify reaches.
func Audit(b *Bug) error {
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
	if !kinds[AffectedCase] || !kinds[FixedCase] {
		errs = append(errs, fmt.Errorf("specs: want an affected and a fixed case, got %+v", Cases(b)))
	}
	if len(Groups(b)) == 0 {
		errs = append(errs, errors.New("no nightly cells"))
	}
	return errors.Join(append(errs, CheckExamples(b)...)...)
}
