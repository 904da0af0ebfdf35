package autobisect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/relapse-dev/relapse/harness/atomicfile"
	"github.com/relapse-dev/relapse/harness/bisect"
	"github.com/relapse-dev/relapse/harness/prowjob"
	"github.com/relapse-dev/relapse/harness/redact"
	"github.com/relapse-dev/relapse/harness/results"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Options say how the bisections run.
type Options struct {
	// Deadline bounds every bisection of the night together: one that is
	// cut short is attached with what it found so far and why it stopped.
	Deadline time.Duration
	// Self is the relapse binary `git bisect run` calls at each commit
	// ("" for os.Executable).
	Self     string
	CacheDir string
	Log      io.Writer
	// Bisect runs one bisection (nil: package bisect's); tests give one
	// with fake verdicts.
	Bisect Bisector
}

// Bisector runs a bisection over releases (source == "") or over the
// commits of the checkout source.
type Bisector func(ctx context.Context, o bisect.Options, self string) (*bisect.Result, error)

// realBisect is package bisect's search.
func realBisect(ctx context.Context, o bisect.Options, self string) (*bisect.Result, error) {
	if o.Source != "" {
		return bisect.Commits(ctx, o, self)
	}
	return bisect.Releases(ctx, o)
}

// Run runs every plan one after another, within the deadline, attaching
// each outcome to its cell; it returns the outcomes in plan order. An
// error is one that kept an outcome from being attached.
func Run(ctx context.Context, plans []Plan, o Options) ([]results.Bisection, error) {
	if o.Deadline <= 0 {
		return nil, fmt.Errorf("bisection deadline %s: want a positive duration (such as 3h)", o.Deadline)
	}
	if o.Bisect == nil {
		o.Bisect = realBisect
	}
	ctx, cancel := context.WithTimeout(ctx, o.Deadline)
	defer cancel()
	var outs []results.Bisection
	var errs []error
	for _, p := range plans {
		b, res := runOne(ctx, p, o)
		if ctx.Err() != nil && b.Error == "" && !b.Found() {
			b.Error = fmt.Sprintf("stopped at the bisection deadline (%s) after %d experiment(s)", o.Deadline, b.Experiments)
		}
		// A remote's URL (in Source, Missing, errors) may carry a token.
		b = redact.Copy(b)
		outs = append(outs, b)
		if err := Attach(p, b, res); err != nil {
			errs = append(errs, fmt.Errorf("attaching the bisection of %s to %s: %w", p.Row, p.CellDir, err))
		}
	}
	return outs, errors.Join(errs...)
}

// runOne runs one plan's bisection, or says what it lacks.
func runOne(ctx context.Context, p Plan, o Options) (results.Bisection, *bisect.Result) {
	b := p.Want
	if b.Missing != "" {
		return b, nil
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "autobisect: %s relapsed on night %s: bisecting %s from %s (good, night %s) to %s (bad)\n", p.Row, p.Night, p.Search, b.Good, b.GoodNight, b.Bad)
	}
	bo := p.Options
	bo.ReportsDir, bo.CacheDir, bo.Log = filepath.Join(p.CellDir, prowjob.ArtifactsName, results.BisectDir, stepsDir), o.CacheDir, o.Log
	// A step waits for the host lock as a night's cells do (other runs
	// share the host): as long as the bisections may take, which the
	// deadline bounds anyway.
	bo.LockWait = o.Deadline
	if p.Search == OverCommits {
		tree, missing, err := checkout(ctx, p, o.CacheDir)
		switch {
		case err != nil:
			b.Error = err.Error()
			return b, nil
		case missing != "":
			b.Missing = missing
			return b, nil
		}
		bo.Source = tree
	}
	start := time.Now()
	res, err := o.Bisect(ctx, bo, o.Self)
	b.Seconds = time.Since(start).Seconds()
	if err != nil {
		b.Error = err.Error()
	}
	if res != nil {
		b.Experiments = res.Experiments()
		if len(res.Boundaries) > 0 {
			first := res.Boundaries[0]
			b.FirstBad, b.LastGood, b.Skipped = first.After, first.Before, first.Skipped
			if first.Kind == "fixed" {
				// The newly resolved end is the older one (a selector that
				// went back): the bad side of the boundary is its Before.
				b.FirstBad, b.LastGood = first.Before, first.After
			}
			if p.Search == OverReleases {
				b.Skipped = append(b.Skipped, unlisted(b.LastGood, b.FirstBad)...)
			}
		}
	}
	return b, res
}

// unlisted are the patch releases between two releases of one line that
// the proxy's listing lacked, so the search could not try them (the
// proxy is a partial mirror): the first bad release may be one of them.
func unlisted(good, bad string) []string {
	g, errG := semver.StrictNewVersion(strings.TrimPrefix(good, "v"))
	b, errB := semver.StrictNewVersion(strings.TrimPrefix(bad, "v"))
	if errG != nil || errB != nil || g.Prerelease() != "" || b.Prerelease() != "" || g.Major() != b.Major() || g.Minor() != b.Minor() {
		return nil
	}
	var out []string
	for p := g.Patch() + 1; p < b.Patch(); p++ {
		out = append(out, fmt.Sprintf("v%d.%d.%d (not listed by the Go module proxy: bisecting it needs it served, or a checkout: relapse bisect --source DIR)", b.Major(), b.Minor(), p))
	}
	return out
}

// stepsDir holds each step's report, under the cell's bisect directory.
const stepsDir = "steps"

// checkout is a tree of the plan's remote whose clone holds both ends:
// a git: row's remote fetched into relapse's cache at the bad commit, a
// source: row's checkout as it is. missing says which end is gone.
func checkout(ctx context.Context, p Plan, cacheDir string) (tree, missing string, err error) {
	good, bad := p.Options.Good[0], p.Options.Bad[0]
	tree = p.Remote
	if strings.HasPrefix(p.Want.Selector, versions.GitPrefix) {
		s, err := scenario.Lookup(p.Options.Scenario)
		if err != nil {
			return "", "", err
		}
		builder := scenario.Builder(s, p.Options.Component)
		if builder == nil {
			return "", "", fmt.Errorf("scenario %s does not build %s", s.Name(), p.Options.Component)
		}
		if cacheDir == "" {
			if cacheDir, err = versions.CacheDir(); err != nil {
				return "", "", err
			}
		}
		spec := versions.GitSpec{Remote: p.Remote, Ref: bad}
		r, err := builder.Target().ResolveGit(ctx, spec, cacheDir)
		if err != nil {
			return "", fmt.Sprintf("the relapsed commit %s is not in %s any more (%v): bisecting needs a clone that holds it and %s "+
				"(relapse bisect --source DIR --good %s --bad %s)", short(bad), p.Remote, err, short(good), good, bad), nil
		}
		tree = r.Dir
	}
	for _, end := range []struct{ what, commit, night string }{{"last good", good, p.Want.GoodNight}, {"relapsed", bad, p.Night}} {
		if out, err := exec.CommandContext(ctx, "git", "-C", tree, "cat-file", "-e", end.commit+"^{commit}").CombinedOutput(); err != nil {
			return "", fmt.Sprintf("the %s commit %s (night %s) is not in %s any more (%s): bisecting needs a clone that still holds it "+
				"(relapse bisect --source DIR --good %s --bad %s)", end.what, short(end.commit), end.night, p.Remote, strings.TrimSpace(string(out)), good, bad), nil
		}
	}
	return tree, "", nil
}

func short(c string) string { return c[:min(12, len(c))] }

// Attach writes the outcome into the cell's bisect directory: bisect's
// page (when a search ran), summary.md and bisection.json, the file
// results reads. Step reports keep no junit*.xml: TestGrid reads every
// such file under a build, and a bisection's steps are not the cell's
// tests.
func Attach(p Plan, b results.Bisection, res *bisect.Result) error {
	dir := filepath.Join(p.CellDir, prowjob.ArtifactsName, results.BisectDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	if res != nil {
		if _, err := bisect.Write(dir, res); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, dropJUnit(filepath.Join(dir, stepsDir)))
	errs = append(errs, atomicfile.Write(filepath.Join(dir, results.BisectSummaryName), []byte(Summary(p, b, res)), 0o644))
	data, err := json.MarshalIndent(b, "", "  ")
	if err == nil {
		err = atomicfile.Write(filepath.Join(dir, results.BisectionName), append(data, '\n'), 0o644)
	}
	return errors.Join(append(errs, err)...)
}

// dropJUnit removes the JUnit files under dir (none when dir is absent).
func dropJUnit(dir string) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasPrefix(d.Name(), "junit") && strings.HasSuffix(d.Name(), ".xml") {
			return os.Remove(path)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
