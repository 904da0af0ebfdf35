package autobisect

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/relapse-dev/relapse/harness/bisect"
	"github.com/relapse-dev/relapse/harness/matrix"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/results"
	"github.com/relapse-dev/relapse/harness/versions"
)

// sourcePrefix is how a cell built from a local tree names its selector
// (versions.ResolveSource's Requested).
const sourcePrefix = "source:"

// Search is how a plan searches.
type Search string

const (
	// OverReleases searches the releases the proxy serves between the ends.
	OverReleases Search = "releases"
	// OverCommits searches the commits of a git remote or checkout.
	OverCommits Search = "commits"
)

// Plan is the bisection of one relapsed row.
type Plan struct {
	// Row is the history's row, Night the night that relapsed, Cell its
	// cell ID and CellDir the cell in the store the result is attached to.
	Row, Night, Cell, CellDir string
	// Search is how the ends are searched ("" when Want.Missing says why
	// there is no search).
	Search Search
	// Remote is, over commits, the git remote (git: rows) or checkout
	// (source: rows) whose commits are searched.
	Remote string
	// Want is the bisection as it will be attached: what, between which
	// ends, or what is missing.
	Want results.Bisection
	// Options are the bisection's (bisect.Options without Source, which
	// Run finds from Remote, and without ReportsDir, Log and CacheDir).
	Options bisect.Options
}

// Plans is a plan for every RELAPSE the latest night raised in a
// selector row (not a canary's: that relapse is on purpose), in row
// order. cells are the matrix file's cells: a relapsed cell is bisected
// with its own parameters, node and repetitions.
func Plans(cmp *results.Comparison, cells []matrix.Cell) []Plan {
	byID := map[string]matrix.Cell{}
	for _, c := range cells {
		byID[c.ID] = c
	}
	latest := cmp.Latest()
	var plans []Plan
	for _, r := range cmp.Rows {
		last, ran := r.Entries[latest]
		// A cell already bisected (a night compared again) keeps its result.
		if !ran || r.Canary || r.Selector == "" || !slices.Contains(r.Flags, results.FlagRelapse) || last.Verdict() != report.Reproduced || last.Bisection != nil {
			continue
		}
		plans = append(plans, plan(r, cmp.Nights, last, byID))
	}
	return plans
}

// plan is one row's bisection, or what it lacks.
func plan(r results.Row, nights []string, last results.Entry, cells map[string]matrix.Cell) Plan {
	comp := last.Meta["component"]
	p := Plan{Row: r.Cell, Night: last.Night, Cell: last.Cell, CellDir: last.Dir,
		Want: results.Bisection{Scenario: last.Meta["scenario"], Component: comp, Selector: r.Selector, Bad: last.Resolved()}}
	missing := func(format string, args ...any) Plan {
		p.Search, p.Want.Missing = "", fmt.Sprintf(format, args...)
		return p
	}
	good := lastGood(r, nights, last)
	if good == nil {
		return missing("no earlier night of row %s was NOT REPRODUCED on another %s version: a bisection needs a last good version or commit "+
			"(bisect by hand: relapse bisect --scenario %s --component %s --good VERSION --bad %s)", r.Cell, comp, p.Want.Scenario, comp, last.Meta["version"])
	}
	p.Want.Good, p.Want.GoodNight = good.Resolved(), good.Night

	switch spec, isGit, err := versions.ParseGit(r.Selector); {
	case isGit && err != nil:
		return missing("the row's selector %q is not a git source: %v", r.Selector, err)
	case isGit || strings.HasPrefix(r.Selector, sourcePrefix):
		p.Search, p.Remote = OverCommits, strings.TrimPrefix(r.Selector, sourcePrefix)
		if isGit {
			p.Remote = spec.Remote
		}
		p.Want.Source = p.Remote
		goodCommit, badCommit := good.Meta["commit_"+comp], last.Meta["commit_"+comp]
		for _, e := range []struct {
			night, commit string
		}{{good.Night, goodCommit}, {last.Night, badCommit}} {
			if e.commit == "" {
				return missing("night %s of row %s recorded no %s commit (finished.json metadata.commit_%s): a bisection over the commits of %s needs both ends' commits",
					e.night, r.Cell, comp, comp, p.Remote)
			}
		}
		p.Options.Good, p.Options.Bad = []string{goodCommit}, []string{badCommit}
	case versions.IsSelector(r.Selector):
		p.Search = OverReleases
		p.Options.Good, p.Options.Bad = []string{good.Meta["version"]}, []string{last.Meta["version"]}
	default:
		return missing("the row's selector %q is neither a release selector (latest, latest-X.Y, maintained) nor a git: or source: tree: relapse cannot tell what to search", r.Selector)
	}

	c, ok := cells[last.Cell]
	if !ok {
		return missing("cell %s is not in the matrix file: its parameters, node and repetitions are unknown, so the bisection could not run the same experiment "+
			"(bisect by hand with relapse bisect, or put the cell back in the file)", last.Cell)
	}
	if len(c.Patches) > 0 {
		return missing("cell %s applies patches (%s), which a bisection does not apply at each step: bisect by hand over a tree with them applied (relapse bisect --source DIR)",
			c.ID, strings.Join(patchNames(c.Patches), ", "))
	}
	p.Options.Scenario, p.Options.Component = c.Scenario, comp
	p.Options.Params, p.Options.Repeat = c.Params, c.Repeat
	p.Options.Node = provision.Spec{Provider: c.Provider, Kernel: c.Kernel, Systemd: c.Systemd}
	p.Options.Versions = heldVersions(c, comp, last)
	return p
}

// lastGood is the entry of the row's newest earlier night that did not
// reproduce on a version (or commit) other than the relapsed one: the
// last good end of the search. nil when there is none.
func lastGood(r results.Row, nights []string, last results.Entry) *results.Entry {
	for i := len(nights) - 1; i >= 0; i-- {
		e, ok := r.Entries[nights[i]]
		if !ok || nights[i] == last.Night || e.Resolved() == last.Resolved() {
			continue
		}
		if e.Verdict() == report.NotReproduced {
			return &e
		}
	}
	return nil
}

// heldVersions are the other components' versions, as the relapsed night
// ran them (a selector among them resolved that night, not again at each
// step), or as the cell names them when the night did not record them.
func heldVersions(c matrix.Cell, searched string, last results.Entry) map[string]string {
	held := map[string]string{}
	for comp, v := range c.Versions {
		if comp == searched {
			continue
		}
		if ran := last.Meta["version_"+comp]; ran != "" && !strings.HasPrefix(v, versions.GitPrefix) && !strings.HasPrefix(v, sourcePrefix) {
			v = ran
		}
		held[comp] = v
	}
	return held
}

func patchNames(patches map[string][]string) []string {
	var out []string
	for comp, ps := range patches {
		for _, p := range ps {
			out = append(out, comp+"="+filepath.Base(p))
		}
	}
	sort.Strings(out)
	return out
}
