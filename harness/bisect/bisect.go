package bisect

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Options is what to bisect.
type Options struct {
	Scenario string
	// Component is the component whose versions (or commits) are searched.
	Component string
	// Good and Bad are versions (or, with Source, commits) known to be
	// good (NOT REPRODUCED) and bad (REPRODUCED); each is checked first.
	Good, Bad []string
	// Source, when set, is a git checkout of the component: commits
	// between Good and Bad are searched instead of releases.
	Source string
	// Versions are the other components' versions; Params the scenario's.
	Versions map[string]string
	Params   map[string]string
	Node     provision.Spec
	// Repeat is the repetitions per step (0: as the scenario's sampling needs).
	Repeat int
	// LockWait is how long each step waits for the host lock another run
	// holds (0: a step finding it held is a skip).
	LockWait   time.Duration
	ReportsDir string
	CacheDir   string
	Log        io.Writer
}

// Label is what a step concluded.
type Label string

const (
	Good Label = "good"
	Bad  Label = "bad"
	Skip Label = "skip"
)

// Step is one experiment of the search.
type Step struct {
	// Version is the release (or, over commits, git describe of the commit).
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Label   Label  `json:"label"`
	// Why says what the label rests on (the verdict's reason).
	Why     string        `json:"why"`
	Result  report.Result `json:"result"`
	Rate    report.Rate   `json:"rate"`
	Seconds float64       `json:"seconds"`
	// Report is the step's report directory.
	Report string `json:"report"`
	// Endpoint is set for the user's labels, checked before the search.
	Endpoint bool `json:"endpoint,omitempty"`
}

// Boundary is one change of label between neighbours.
type Boundary struct {
	// Kind is "introduced" (good, then bad) or "fixed" (bad, then good).
	Kind string `json:"kind"`
	// Before is the last version of the old label, After the first of the new.
	Before string `json:"before"`
	After  string `json:"after"`
	// Skipped are versions between them that could not be decided.
	Skipped []string `json:"skipped,omitempty"`
}

// Result is a whole bisection.
type Result struct {
	Scenario   string     `json:"scenario"`
	Bug        report.Bug `json:"bug"`
	Component  string     `json:"component"`
	Source     string     `json:"source,omitempty"`
	Candidates []string   `json:"candidates"`
	Steps      []Step     `json:"steps"`
	Boundaries []Boundary `json:"boundaries"`
	Started    time.Time  `json:"started"`
	Seconds    float64    `json:"seconds"`
	Errors     []string   `json:"errors,omitempty"`
}

// Experiments counts the steps that ran an experiment.
func (r *Result) Experiments() int { return len(r.Steps) }

// prober runs one experiment and labels it.
type prober func(ctx context.Context, version string) Step

// Releases bisects over released versions.
func Releases(ctx context.Context, o Options) (*Result, error) {
	s, comp, err := lookup(o)
	if err != nil {
		return nil, err
	}
	res := &Result{Scenario: s.Name(), Bug: s.Bug(), Component: comp.Name, Started: time.Now().UTC()}
	// Every endpoint is checked offline first: a typo must not wait on
	// the proxy.
	labelled := map[string]Label{}
	for _, lv := range []struct {
		list  []string
		label Label
	}{{o.Good, Good}, {o.Bad, Bad}} {
		for _, v := range lv.list {
			exact, err := comp.Normalize(v)
			if err != nil {
				return nil, err
			}
			labelled[exact] = lv.label
		}
	}
	if len(labelled) < 2 {
		return nil, fmt.Errorf("bisect needs at least one good and one bad %s version (--good X --bad Y)", comp.Name)
	}
	served, err := comp.Served(ctx)
	if err != nil {
		return nil, err
	}
	if res.Candidates, err = endpoints(comp, served, labelled, time.Now()); err != nil {
		return nil, err
	}
	probe := func(ctx context.Context, v string) Step { return runStep(ctx, o, v, "") }
	err = search(ctx, res, labelled, probe, o.Log)
	res.Seconds = time.Since(res.Started).Seconds()
	return res, err
}

// endpoints resolves the labelled selectors (bad = latest) against the
// proxy's listing, in place, and gives the candidates between the lowest
// and the highest label.
func endpoints(comp versions.Component, served []string, labelled map[string]Label, today time.Time) ([]string, error) {
	for _, v := range slices.Collect(maps.Keys(labelled)) {
		if sel, ok := versions.ParseSelector(v); ok {
			label := labelled[v]
			exact, _, err := comp.SelectFrom(served, sel, today)
			if err != nil {
				return nil, err
			}
			delete(labelled, v)
			labelled[exact] = label
		}
	}
	return candidates(served, comp.Pins, labelled), nil
}

func lookup(o Options) (scenario.Scenario, versions.Component, error) {
	s, err := scenario.Lookup(o.Scenario)
	if err != nil {
		return nil, versions.Component{}, err
	}
	if b := scenario.Builder(s, o.Component); b != nil {
		// Everything but the searched component is the same at every
		// step: a mistake there (repetitions, node, parameters, other
		// versions) is a usage error now, not a skip at each step.
		// The component is checked as if from a tree, since its
		// version changes from step to step.
		if err := experiment.Check(stepOptions(o, "", "the searched "+o.Component)); err != nil {
			return nil, versions.Component{}, err
		}
		return s, b.Target(), nil
	}
	var names []string
	for _, b := range s.Components() {
		names = append(names, b.Target().Name)
	}
	return nil, versions.Component{}, fmt.Errorf("scenario %s does not build %s: bisect one of %s", s.Name(), o.Component, strings.Join(names, ", "))
}

// candidates are the versions to search, ordered: what the proxy lists
// and the pins, from the lowest labelled version to the highest.
func candidates(served []string, pins []versions.Pin, labelled map[string]Label) []string {
	set := map[string]bool{}
	for _, v := range served {
		set[v] = true
	}
	for _, p := range pins {
		set[p.Version] = true
	}
	for v := range labelled {
		set[v] = true
	}
	var all []string
	for v := range set {
		if semver.IsValid(v) {
			all = append(all, v)
		}
	}
	sort.Slice(all, func(i, j int) bool { return semver.Compare(all[i], all[j]) < 0 })
	var lo, hi string
	for v := range labelled {
		if lo == "" || semver.Compare(v, lo) < 0 {
			lo = v
		}
		if hi == "" || semver.Compare(v, hi) > 0 {
			hi = v
		}
	}
	var out []string
	for _, v := range all {
		if semver.Compare(v, lo) >= 0 && semver.Compare(v, hi) <= 0 {
			out = append(out, v)
		}
	}
	return out
}

// search checks the labelled endpoints, then narrows every pair of
// neighbouring labels that disagree.
func search(ctx context.Context, res *Result, labelled map[string]Label, probe prober, log io.Writer) error {
	logf := func(format string, args ...any) {
		if log != nil {
			fmt.Fprintf(log, "bisect: "+format+"\n", args...)
		}
	}
	known := map[string]Label{}
	for _, v := range res.Candidates {
		want, ok := labelled[v]
		if !ok {
			continue
		}
		step := probe(ctx, v)
		step.Endpoint = true
		res.Steps = append(res.Steps, step)
		logf("%s: %s (labelled %s): %s", v, step.Label, want, step.Why)
		if step.Label != want {
			return fmt.Errorf("%s was given as %s but the experiment says %s (%s): fix the labels or look at %s", v, want, step.Label, step.Why, step.Report)
		}
		known[v] = step.Label
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	var points []int
	for i, v := range res.Candidates {
		if _, ok := known[v]; ok {
			points = append(points, i)
		}
	}
	for k := 0; k+1 < len(points); k++ {
		lo, hi := points[k], points[k+1]
		if known[res.Candidates[lo]] == known[res.Candidates[hi]] {
			continue
		}
		b, err := narrow(ctx, res, lo, hi, known, probe, logf)
		if err != nil {
			return err
		}
		res.Boundaries = append(res.Boundaries, b)
	}
	return nil
}

// narrow binary-searches the candidates strictly between lo and hi, whose
// labels differ. A skipped version is dropped and its nearest undecided
// neighbour of the middle tried instead, as `git bisect skip` does.
func narrow(ctx context.Context, res *Result, lo, hi int, known map[string]Label, probe prober, logf func(string, ...any)) (Boundary, error) {
	c := res.Candidates
	lowLabel := known[c[lo]]
	kind := "introduced"
	if lowLabel == Bad {
		kind = "fixed"
	}
	skipped := map[int]bool{}
	for {
		var open []int
		for i := lo + 1; i < hi; i++ {
			if !skipped[i] {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			b := Boundary{Kind: kind, Before: c[lo], After: c[hi]}
			for i := lo + 1; i < hi; i++ {
				b.Skipped = append(b.Skipped, c[i])
			}
			logf("%s between %s and %s", kind, b.Before, b.After)
			return b, nil
		}
		mid := open[len(open)/2]
		step := probe(ctx, c[mid])
		res.Steps = append(res.Steps, step)
		logf("%s: %s (%s)", c[mid], step.Label, step.Why)
		if ctx.Err() != nil {
			return Boundary{}, ctx.Err()
		}
		switch step.Label {
		case Skip:
			skipped[mid] = true
		case lowLabel:
			lo = mid
		default:
			hi = mid
		}
	}
}

// stepOptions are the experiment of one step: the component at version,
// or built from the checkout at source.
func stepOptions(o Options, version, source string) experiment.Options {
	vers := map[string]string{}
	for k, v := range o.Versions {
		vers[k] = v
	}
	opts := experiment.Options{Scenario: o.Scenario, Versions: vers, Params: o.Params, Node: o.Node, Repeat: o.Repeat,
		ReportsDir: o.ReportsDir, CacheDir: o.CacheDir, Log: o.Log, LockWait: o.LockWait,
		Invocation: fmt.Sprintf("relapse bisect --scenario %s --component %s (step %s)", o.Scenario, o.Component, version)}
	if source != "" {
		opts.Sources = map[string]string{o.Component: source}
	} else {
		vers[o.Component] = version
	}
	return opts
}

// runStep runs the scenario at one version (or, with commit set, the
// checkout at that commit) and labels it from the verdict.
func runStep(ctx context.Context, o Options, version, source string) Step {
	step := Step{Version: version}
	opts := stepOptions(o, version, source)
	start := time.Now()
	defer func() { step.Seconds = time.Since(start).Seconds() }()
	plan, err := experiment.Prepare(ctx, opts)
	if err != nil {
		step.Label, step.Why = Skip, "not runnable: "+err.Error()
		return step
	}
	res, err := plan.Execute(ctx)
	if err != nil {
		step.Label, step.Why = Skip, "relapse failed: "+err.Error()
		return step
	}
	v := res.Report.Verdict
	step.Result, step.Rate, step.Why, step.Report = v.Result, v.Rate, v.Reason, res.Paths.Dir
	if c := res.Report.Components; source != "" && len(c) > 0 {
		for _, a := range c {
			if a.Component == o.Component && a.Source != nil {
				step.Commit, step.Version = a.Source.Commit, a.Version
			}
		}
	}
	switch v.Result {
	case report.Reproduced:
		step.Label = Bad
	case report.NotReproduced:
		step.Label = Good
	default:
		step.Label = Skip
	}
	return step
}
