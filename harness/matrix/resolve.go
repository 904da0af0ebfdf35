package matrix

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// ResolveSelectors fills each cell's Resolved with what its selector
// versions (latest, latest-X.Y) mean today, as the Go module proxy lists
// them, so that a listing of the matrix shows tonight's versions. A cell
// resolves again when it runs: the listing is what was asked then, not a
// promise. The cells are returned with every failure joined.
func ResolveSelectors(ctx context.Context, cells []Cell, today time.Time) ([]Cell, error) {
	var errs []error
	// One proxy listing per component and selector, however many cells ask.
	seen := map[string]string{}
	for i, c := range cells {
		for name, requested := range c.Versions {
			sel, ok := versions.ParseSelector(requested)
			if !ok {
				continue
			}
			key := name + "@" + sel.Text
			v, done := seen[key]
			if !done {
				comp, err := component(c.Scenario, name)
				if err == nil {
					v, _, err = comp.Select(ctx, sel, today)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("cell %s: %w", c.ID, err))
					continue
				}
				seen[key] = v
			}
			if cells[i].Resolved == nil {
				cells[i].Resolved = map[string]string{}
			}
			cells[i].Resolved[name] = v
		}
	}
	return cells, errors.Join(errs...)
}

// component is the versions.Component the scenario builds under name.
func component(scenarioName, name string) (versions.Component, error) {
	s, err := scenario.Lookup(scenarioName)
	if err != nil {
		return versions.Component{}, err
	}
	if b := scenario.Builder(s, name); b != nil {
		return b.Target(), nil
	}
	return versions.Component{}, fmt.Errorf("scenario %s builds no %s", scenarioName, name)
}
