package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/atomicfile"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/prowjob"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Options says where a matrix run writes and how it runs.
type Options struct {
	// Results receives one directory per cell (Prow's layout).
	Results string
	// Parallel is how many cells running in VMs of their own may run at
	// once (cells that change this host always run one at a time).
	Parallel int
	// LockWait is how long a cell waits for the host lock.
	LockWait time.Duration
	CacheDir string
	Log      io.Writer
}

// Outcome is one cell's run.
type Outcome struct {
	Cell   Cell
	Report *report.Report
	Dir    string
	Err    error
}

// Run executes the cells. Cells that change this host run one after
// another in ID order; cells in VMs of their own run beside them, up to
// Parallel at a time.
func Run(ctx context.Context, cells []Cell, o Options) []Outcome {
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	outs := make([]Outcome, len(cells))
	one := func(i int) {
		if ctx.Err() != nil {
			outs[i] = Outcome{Cell: cells[i], Err: ctx.Err()}
			return
		}
		outs[i] = runCell(ctx, cells[i], o)
	}
	var wg sync.WaitGroup
	vmSlots := make(chan struct{}, o.Parallel)
	var host []int
	for i, c := range cells {
		if !c.OwnVM() {
			host = append(host, i)
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			vmSlots <- struct{}{}
			defer func() { <-vmSlots }()
			one(i)
		}(i)
	}
	for _, i := range host {
		one(i)
	}
	wg.Wait()
	return outs
}

// runCell runs one cell and writes its Prow directory.
func runCell(ctx context.Context, c Cell, o Options) Outcome {
	dir := filepath.Join(o.Results, c.ID)
	out := Outcome{Cell: c, Dir: dir}
	artifacts := filepath.Join(dir, prowjob.ArtifactsName)
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		out.Err = err
		return out
	}
	host, _ := os.Hostname()
	if err := writeJSON(filepath.Join(dir, prowjob.StartedName), started(c, host, experiment.RelapseBuild().Commit, time.Now())); err != nil {
		out.Err = err
		return out
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "matrix: cell %s\n", c.ID)
	}
	if c.Skip != "" {
		out.Report = skipped(c)
		out.Err = skipCell(dir, c, out.Report)
		return out
	}
	opts := c.options()
	opts.ReportsDir, opts.CacheDir, opts.LockWait, opts.Log = filepath.Join(artifacts, "reports"), o.CacheDir, o.LockWait, o.Log
	opts.Invocation = Invocation(c)
	plan, err := experiment.Prepare(ctx, opts)
	if err != nil {
		out.Err = err
		_ = endCell(dir, c, nil, "", err)
		return out
	}
	res, err := plan.Execute(ctx)
	if err != nil {
		out.Err = err
	}
	junit := ""
	if res != nil && res.Report != nil {
		out.Report, junit = res.Report, res.Paths.JUnit
	}
	if err := endCell(dir, c, out.Report, junit, out.Err); err != nil && out.Err == nil {
		out.Err = err
	}
	return out
}

// endCell completes the cell's directory once its run ended: the report's
// JUnit becomes the cell's one JUnit file, and finished.json is written
// from the report (or the error, when there is none).
func endCell(dir string, c Cell, r *report.Report, reportJUnit string, runErr error) error {
	moved := moveJUnit(reportJUnit, filepath.Join(dir, prowjob.ArtifactsName), c.ID)
	return errors.Join(moved, writeJSON(filepath.Join(dir, prowjob.FinishedName), finished(c, r, runErr)))
}

// skipped is the report of a cell that cannot run here: INCONCLUSIVE for
// a missing requirement, which its JUnit shows as skipped with the reason.
func skipped(c Cell) *report.Report {
	r := &report.Report{Scenario: c.Scenario, Started: time.Now().UTC(),
		Verdict: report.Verdict{Result: report.Inconclusive, Cause: report.CauseMissing, Reason: c.Skip, Missing: []string{c.Skip}}}
	if s, err := scenario.Lookup(c.Scenario); err == nil {
		r.Bug = s.Bug()
	}
	return r
}

// skipCell writes a skipped cell's JUnit and finished.json.
func skipCell(dir string, c Cell, r *report.Report) error {
	data, err := report.MarshalJUnit(r)
	if err == nil {
		err = atomicfile.Write(filepath.Join(dir, prowjob.ArtifactsName, prowjob.JUnitFile(c.ID)), data, 0o644)
	}
	return errors.Join(err, writeJSON(filepath.Join(dir, prowjob.FinishedName), finished(c, r, nil)))
}

// started is the cell's started.json.
func started(c Cell, host, commit string, now time.Time) prowjob.Started {
	return prowjob.Started{Timestamp: now.Unix(), Node: host, RepoCommit: commit,
		Metadata: map[string]string{"cell": c.ID, "scenario": c.Scenario}}
}

// moveJUnit makes the report's junit.xml the cell's one JUnit file,
// artifacts/junit_<cell>.xml. It is moved, not copied: TestGrid reads
// every file under a build whose name starts with "junit" and ends in
// ".xml", so a copy left at artifacts/reports/<run>/junit.xml would count
// every test twice (a 1-of-1 relapse shown as "0/2 runs passed").
// A report written outside a cell (relapse repro) keeps its junit.xml
// beside report.json, where CI tools look for it; in a cell the report's
// bundle still holds it.
func moveJUnit(reportJUnit, artifacts, id string) error {
	if reportJUnit == "" {
		return nil
	}
	if err := os.Rename(reportJUnit, filepath.Join(artifacts, prowjob.JUnitFile(id))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("making the report's %s the cell's %s: %w", report.JUnitName, prowjob.JUnitFile(id), err)
	}
	return nil
}

// Invocation is the command that runs one cell by hand.
func Invocation(c Cell) string {
	args := []string{"relapse", "repro", "--scenario", c.Scenario}
	for _, k := range sortedKeys(c.Versions) {
		args = append(args, "--version", k+"="+c.Versions[k])
	}
	for _, comp := range sortedKeys(flatten(c.Patches)) {
		for _, p := range c.Patches[comp] {
			args = append(args, "--patch", comp+"="+p)
		}
	}
	for _, k := range sortedKeys(c.Params) {
		args = append(args, "--param", k+"="+c.Params[k])
	}
	if c.Provider != "local" {
		args = append(args, "--provider", c.Provider)
	}
	if c.Kernel != "" {
		args = append(args, "--kernel", c.Kernel)
	}
	if c.Systemd != "" {
		args = append(args, "--systemd", c.Systemd)
	}
	if c.Repeat > 0 {
		args = append(args, "--repeat", strconv.Itoa(c.Repeat))
	}
	return strings.Join(args, " ")
}

// finished is the cell's finished.json: passed unless the verdict
// contradicts the affected range, a change was not put back, or relapse
// failed; the metadata are what TestGrid shows as columns.
func finished(c Cell, r *report.Report, err error) prowjob.Finished {
	f := prowjob.Finished{Timestamp: time.Now().Unix(), Metadata: map[string]string{"cell": c.ID, "scenario": c.Scenario, "provider": c.Provider}}
	if c.Kernel != "" {
		f.Metadata["kernel"] = c.Kernel
	}
	if c.Systemd != "" {
		f.Metadata["systemd"] = c.Systemd
	}
	if c.Canary {
		f.Metadata["canary"] = "true"
	}
	// The speed says which selection (make nightly's fast cells, CI's
	// slow ones) a night must hold the cell in: a canary missing from a
	// night that ran its speed fails it.
	if c.Speed != "" {
		f.Metadata["speed"] = c.Speed
	}
	if r == nil {
		f.Result = prowjob.ResultFailure
		f.Metadata["failure"] = "relapse failed before a verdict"
		if err != nil {
			f.Metadata["error"] = err.Error()
		}
		return f
	}
	v := r.Verdict
	md := f.Metadata
	md["bug"], md["fix"], md["affected"], md["bug_title"] = r.Bug.ID, r.Bug.Fix, r.Bug.Affected, r.Bug.Title
	md["verdict"], md["expected"], md["cause"] = string(v.Result), string(v.Expected), v.Cause
	md["component"], md["version"], md["build"] = v.Component, v.Version, v.Build
	md["k"], md["n"] = strconv.Itoa(v.Rate.K), strconv.Itoa(v.Rate.N)
	md["rate_lo"], md["rate_hi"] = strconv.FormatFloat(v.Rate.Lo, 'f', 3, 64), strconv.FormatFloat(v.Rate.Hi, 'f', 3, 64)
	// A skipped cell ran nothing: it has no report directory to name.
	if r.RunID != "" {
		md["report"] = r.RunID
	}
	if r.Variant != "" {
		md["variant"] = r.Variant
	}
	md["host_kernel"] = r.Host.Kernel
	var reverts []string
	for _, a := range r.Components {
		md["version_"+a.Component] = a.Version
		md["sum_"+a.Component] = a.Sum
		if c := a.CommitStamp(); !strings.HasPrefix(c, "module-") {
			md["commit_"+a.Component] = strings.TrimSuffix(c, "+patched")
		}
		// A version a selector chose, or a source tree's HEAD: the history
		// keeps one row per selector (or source) and shows what it
		// resolved to each night.
		if sel, how := selection(a.Resolved); sel != "" {
			if asked := c.Requested[a.Component]; asked != "" {
				sel = asked
			}
			md["selector_"+a.Component], md["selected_"+a.Component] = sel, how
			if a.Component == v.Component {
				md["selector"], md["selected"] = sel, how
			}
		}
		var ps []string
		for _, p := range a.Patches {
			ps = append(ps, p.Name+"@"+p.SHA256[:12])
			if p.RevertsFix != "" {
				reverts = append(reverts, p.RevertsFix)
			}
		}
		if len(ps) > 0 {
			sort.Strings(ps)
			md["patches_"+a.Component] = strings.Join(ps, ",")
		}
	}
	// The fixes the patches take out: a cell reverting its bug's own fix
	// is a canary whatever its matrix said (relapse results reads this).
	if len(reverts) > 0 {
		sort.Strings(reverts)
		md["reverts"] = strings.Join(reverts, ",")
	}
	for k, v := range r.Observed {
		md["version_"+k] = v
	}
	// The contradiction first, as in the cell's JUnit: it is what the
	// cell is for; a change not put back is the lesser finding.
	contradicts, unrestored := v.Cause == report.CauseEvidence && v.Expected != "" && !v.Matches, len(r.Unrestored()) > 0
	switch {
	case contradicts && unrestored:
		f.Result = prowjob.ResultFailure
		md["failure"] = "verdict contradicts the affected range; and a host change not put back"
	case contradicts:
		f.Result = prowjob.ResultFailure
		md["failure"] = "verdict contradicts the affected range"
	case unrestored:
		f.Result = prowjob.ResultFailure
		md["failure"] = "host change not put back"
	case v.Cause == report.CauseInterrupted:
		f.Result = prowjob.ResultAborted
		md["failure"] = "interrupted before a verdict"
	case v.Cause == report.CauseSetup:
		// Prow has no ERROR: relapse's own failure is a FAILURE whose
		// metadata.error says it was relapse's (the dashboard shows it so).
		f.Result = prowjob.ResultFailure
		md["failure"] = "relapse failed before a verdict"
		md["error"] = v.Reason
	default:
		f.Result, f.Passed = prowjob.ResultSuccess, true
	}
	return f
}

// selection is what chose a component's version and how it resolved:
// a selector (latest = v1.5.3 ...), or a source tree at its HEAD; "" for
// a version named as such.
func selection(r versions.Resolved) (selector, how string) {
	switch {
	case r.Selected != "":
		return r.Requested, r.Selected
	case r.Source != nil:
		how = r.Source.Dir + " at " + r.Source.Commit
		if r.Source.Describe != "" {
			how += " (" + r.Source.Describe + ")"
		}
		return r.Requested, how
	}
	return "", ""
}

// writeJSON writes v to a temporary file beside path and renames it into
// place: a cell killed while writing leaves the old file or none, never a
// truncated one (relapse results refuses a truncated finished.json).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}
