package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	modsemver "golang.org/x/mod/semver"

	"github.com/relapse-dev/relapse/harness/versions"
)

// Upstream is the remote a matrix file writes for a component's own
// upstream repository: git:upstream@main is "runc's main branch", whichever
// checkout of it this machine has. The file stays the same in CI (which
// clones upstream) and on a laptop (which points at a local checkout);
// Sources say where the checkout is.
const Upstream = "upstream"

// SourcesEnv is the environment variable (and make variable) naming the
// checkouts behind git:upstream@<ref> versions: runc=DIR,containerd=DIR.
const SourcesEnv = "NIGHTLY_SOURCES"

// Sources are local checkouts of upstream repositories, by component.
type Sources map[string]string

// sourceComponents are the components whose upstream a night may follow
// at a git ref.
var sourceComponents = []versions.Component{versions.Runc, versions.Containerd, versions.Kubernetes}

// ParseSources reads NIGHTLY_SOURCES: comma-separated component=DIR, each
// component at most once, each DIR an absolute path to a git repository
// (a checkout or a bare one). Anything else is refused with what is wrong
// and what would be right, before any cell runs.
func ParseSources(ctx context.Context, text string) (Sources, error) {
	s := Sources{}
	if strings.TrimSpace(text) == "" {
		return s, nil
	}
	var names []string
	for _, c := range sourceComponents {
		names = append(names, c.Name)
	}
	for _, entry := range strings.Split(text, ",") {
		comp, dir, ok := strings.Cut(entry, "=")
		switch {
		case !ok || comp == "" || dir == "":
			return nil, fmt.Errorf("%s entry %q: want component=DIR, e.g. runc=/src/runc (entries separated by commas)", SourcesEnv, entry)
		case !slices.Contains(names, comp):
			return nil, fmt.Errorf("%s entry %q: %q is no component with an upstream repository (want one of %s)", SourcesEnv, entry, comp, strings.Join(names, ", "))
		case s[comp] != "":
			return nil, fmt.Errorf("%s names %s twice (%s and %s): give one checkout per component", SourcesEnv, comp, s[comp], dir)
		case !filepath.IsAbs(dir) || filepath.Clean(dir) != dir:
			return nil, fmt.Errorf("%s entry %q: %q is not a clean absolute path (write it as %s)", SourcesEnv, entry, dir, cleanAbs(dir))
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s entry %q: %s is not a directory (want a clone of %s's repository)", SourcesEnv, entry, dir, comp)
		}
		if _, err := versions.RemoteHead(ctx, dir, "HEAD"); err != nil {
			return nil, fmt.Errorf("%s entry %q: %s is not a git repository git can read (want a clone of %s's repository): %w", SourcesEnv, entry, dir, comp, err)
		}
		s[comp] = dir
	}
	return s, nil
}

func cleanAbs(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// Listing is the versions the Go module proxy lists for a component
// (versions.Component.Served); tests give a fixed listing.
type Listing func(ctx context.Context, c versions.Component) ([]string, error)

// ProxyListing asks the Go module proxy.
func ProxyListing(ctx context.Context, c versions.Component) ([]string, error) { return c.Served(ctx) }

// Night resolves a matrix for one night: what its selectors and upstream
// refs mean today.
type Night struct {
	List    Listing
	Today   time.Time
	Sources Sources
}

// Resolve makes the night's cells from the file's:
//
//   - a cell whose version is "maintained" becomes one cell per line the
//     component's upstream maintains today (versions.Maintenance), its ID
//     carrying the line (runc-pipe-hang.runc-maintained-1.4) so that each
//     line is a row of history of its own; it runs latest-X.Y of its line
//     and records "maintained" as its selector;
//   - a git:upstream@<ref> version is pointed at the component's checkout
//     in Sources; without one the cell is kept with Skip saying what it
//     needs, and reports INCONCLUSIVE instead of failing the night;
//   - Resolved gets what each selector and ref means tonight.
//
// The proxy is listed once per component, however many cells ask. Cells
// come back sorted by ID; a line or ref that cannot be resolved is an error
// naming the cell, as an ID that the expansion makes twice is.
func (n Night) Resolve(ctx context.Context, cells []Cell) ([]Cell, error) {
	listings := map[string][]string{}
	list := func(c versions.Component) ([]string, error) {
		if l, ok := listings[c.Name]; ok {
			return l, nil
		}
		l, err := n.List(ctx, c)
		if err != nil {
			return nil, err
		}
		listings[c.Name] = l
		return l, nil
	}
	var out []Cell
	var errs []error
	for _, c := range cells {
		expanded, err := n.expandMaintained(c, list)
		if err != nil {
			// Listed as the file wrote it, with the error: a run stops.
			errs = append(errs, fmt.Errorf("cell %s: %w", c.ID, err))
			out = append(out, c)
			continue
		}
		for _, e := range expanded {
			if err := n.resolveCell(ctx, &e, list); err != nil {
				errs = append(errs, fmt.Errorf("cell %s: %w", e.ID, err))
			}
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	for i := 1; i < len(out); i++ {
		if out[i].ID == out[i-1].ID {
			errs = append(errs, fmt.Errorf("cell %s appears twice once maintained lines are expanded: give one of the groups a name", out[i].ID))
		}
	}
	return out, errors.Join(errs...)
}

// expandMaintained turns a cell with maintained versions into one cell per
// maintained line (per component, crossed).
func (n Night) expandMaintained(c Cell, list func(versions.Component) ([]string, error)) ([]Cell, error) {
	cells := []Cell{c}
	for _, name := range sortedKeys(c.Versions) {
		if c.Versions[name] != versions.SelectMaintained {
			continue
		}
		comp, err := component(c.Scenario, name)
		if err != nil {
			return nil, err
		}
		listed, err := list(comp)
		if err != nil {
			return nil, err
		}
		sel, _ := versions.ParseSelector(versions.SelectMaintained)
		picked, err := sel.Pick(listed, comp.Maintenance, n.Today)
		if err != nil {
			return nil, fmt.Errorf("%s version %w", name, err)
		}
		var next []Cell
		for _, base := range cells {
			for _, v := range picked {
				line := strings.TrimPrefix(modsemver.MajorMinor(v), "v")
				next = append(next, base.onLine(name, line))
			}
		}
		cells = next
	}
	return cells, nil
}

// onLine is the cell for one maintained line of a component: it runs
// latest-X.Y, and says maintained was asked.
func (c Cell) onLine(name, line string) Cell {
	c.Versions = copyMap(c.Versions)
	c.Versions[name] = "latest-" + line
	c.Requested = copyMap(c.Requested)
	c.Requested[name] = versions.SelectMaintained
	segment := name + "-" + versions.SelectMaintained
	parts := strings.Split(c.ID, ".")
	for i, p := range parts {
		if p == segment {
			parts[i] = segment + "-" + line
		}
	}
	c.ID = strings.Join(parts, ".")
	return c
}

// resolveCell fills Resolved and points git:upstream@<ref> at its source.
func (n Night) resolveCell(ctx context.Context, c *Cell, list func(versions.Component) ([]string, error)) error {
	var errs []error
	for _, name := range sortedKeys(c.Versions) {
		requested := c.Versions[name]
		var resolved string
		if spec, ok, _ := versions.ParseGit(requested); ok {
			if spec.Remote == Upstream {
				dir := n.Sources[name]
				if dir == "" {
					c.Skip = fmt.Sprintf("no %s checkout for %s: set %s=%s=DIR (a clone of %s's repository) to run it", name, requested, SourcesEnv, name, name)
					continue
				}
				c.Requested = copyMap(c.Requested)
				c.Requested[name] = requested
				spec.Remote = dir
				c.Versions = copyMap(c.Versions)
				c.Versions[name] = spec.String()
			}
			commit, err := versions.RemoteHead(ctx, spec.Remote, spec.Ref)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			resolved = "commit " + commit
		} else if sel, ok := versions.ParseSelector(requested); ok {
			comp, err := component(c.Scenario, name)
			var listed []string
			if err == nil {
				listed, err = list(comp)
			}
			if err == nil {
				resolved, _, err = comp.SelectFrom(listed, sel, n.Today)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
		} else {
			continue
		}
		if c.Resolved == nil {
			c.Resolved = map[string]string{}
		}
		c.Resolved[name] = resolved
	}
	return errors.Join(errs...)
}
