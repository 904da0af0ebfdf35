//go:build !relapse_lean

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/relapse-dev/relapse/harness/autobisect"
	matrixpkg "github.com/relapse-dev/relapse/harness/matrix"
	"github.com/relapse-dev/relapse/harness/matrixjob"
	"github.com/relapse-dev/relapse/harness/report"
	resultspkg "github.com/relapse-dev/relapse/harness/results"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/versions"
)

// The matrix-file commands run cluster cells (a bare cluster's Indexed
// Job), so a lean build leaves them out.
func init() {
	matrixFileCmd, nightlyCmd, bisectRelapses = matrixFile, nightly, bisectStore
}

// matrixSelection is what `matrix --file` and `nightly` share.
type matrixSelection struct {
	file, cell, speed, shard string
	canaries                 bool
	parallel                 int
	lockWait                 time.Duration
	// job runs the cells as an Indexed Job on a bare cluster relapse makes.
	job        bool
	kubernetes string
	// sources are the checkouts behind git:upstream@<ref> versions
	// (component=DIR,...; NIGHTLY_SOURCES by default).
	sources string
	// staging: the results directory is merged and removed afterwards, so
	// its paths are not worth printing.
	staging bool
}

func addMatrixFlags(fs *flag.FlagSet) *matrixSelection {
	m := &matrixSelection{}
	fs.StringVar(&m.file, "file", "ci/nightly.yaml", "matrix file")
	fs.StringVar(&m.cell, "cell", "", "run only the cell with this ID")
	fs.StringVar(&m.speed, "speed", "", "run only cells of this speed: fast or slow")
	fs.StringVar(&m.shard, "shard", "", "run only shard i of n (i/n, 1-based) of the selected cells")
	fs.BoolVar(&m.canaries, "canaries", true, "include canary cells (a fix reverted on purpose: the night must flag them)")
	fs.IntVar(&m.parallel, "parallel", 2, "cells in VMs of their own that may run at once (host cells run one at a time)")
	fs.DurationVar(&m.lockWait, "lock-wait", 0, "how long a cell waits for the host lock another run holds")
	fs.BoolVar(&m.job, "job", false, "run the cells as a Kubernetes Indexed Job (one completion index per cell, --parallel pods) on a bare cluster relapse makes here")
	fs.StringVar(&m.kubernetes, "job-kubernetes", "1.30.14", "the Kubernetes version of --job's cluster")
	fs.StringVar(&m.sources, "sources", os.Getenv(matrixpkg.SourcesEnv), "checkouts of upstream repositories for the file's git:upstream@<ref> versions: component=DIR,... (default $"+matrixpkg.SourcesEnv+"); a component without one has its upstream cells skipped, INCONCLUSIVE")
	return m
}

// resolveError is a night's selectors or upstream refs failing to
// resolve: not a usage error, the file and flags were right.
type resolveError struct{ error }

func (e resolveError) Unwrap() error { return e.error }

// selectionFailed is the exit status for an error of cells(): a usage
// error (2) unless the night failed to resolve (1).
func selectionFailed(err error) int {
	var re resolveError
	if errors.As(err, &re) {
		fmt.Fprintf(os.Stderr, "relapse: resolving tonight's versions: %v\n", err)
		return exitFailed
	}
	return usageError(err)
}

// cells checks the flags, loads the file, resolves what its selectors and
// upstream refs mean tonight (a maintained cell becomes one per line) and
// applies the selection. A failed resolution still returns the cells it
// could make, with a resolveError.
func (m *matrixSelection) cells(ctx context.Context) (*matrixpkg.File, []matrixpkg.Cell, error) {
	shard, shards := 1, 1
	if m.shard != "" {
		var err error
		if shard, shards, err = matrixpkg.ParseShard(m.shard); err != nil {
			return nil, nil, err
		}
	}
	if m.speed != "" && m.speed != "fast" && m.speed != "slow" {
		return nil, nil, fmt.Errorf("--speed %q: want fast or slow", m.speed)
	}
	if m.parallel < 1 {
		return nil, nil, fmt.Errorf("--parallel %d: want how many VM cells may run at once, 1 or more", m.parallel)
	}
	if err := checkLockWait(m.lockWait); err != nil {
		return nil, nil, err
	}
	if m.job {
		if _, err := versions.Kubernetes.Normalize(m.kubernetes); err != nil {
			return nil, nil, fmt.Errorf("--job-kubernetes: %w", err)
		}
	}
	sources, err := matrixpkg.ParseSources(ctx, m.sources)
	if err != nil {
		return nil, nil, fmt.Errorf("--sources: %w", err)
	}
	f, all, err := matrixpkg.Load(m.file)
	if err != nil {
		return nil, nil, err
	}
	night := matrixpkg.Night{List: matrixpkg.ProxyListing, Today: time.Now(), Sources: sources}
	all, resolveErr := night.Resolve(ctx, all)
	cells, err := matrixpkg.Select(all, m.cell, m.speed, shard, shards, m.canaries)
	if err == nil && resolveErr != nil {
		err = resolveError{resolveErr}
	}
	return f, cells, err
}

func matrixFile(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	sel := addMatrixFlags(fs)
	list := fs.Bool("list", false, "print the selected cells as JSON (for a CI engine's matrix) and run nothing")
	manifest := fs.String("job-manifest", "", "print the Indexed Job that runs the selected cells on a self-hosted cluster and run nothing; "+
		"the value is the node directory that receives the results (the nodes need this repository at the current path and relapse at this binary's)")
	resultsDir := fs.String("results", "results", "directory that receives one Prow-layout directory per cell")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	_, cells, err := sel.cells(ctx)
	var unresolved resolveError
	if err != nil && !(*list && errors.As(err, &unresolved)) {
		return selectionFailed(err)
	}
	if *list {
		// Tonight's versions beside the selectors: a proxy that cannot be
		// asked leaves them (and maintained lines) out and says so, the
		// listing of the rest still stands.
		if err != nil {
			fmt.Fprintf(os.Stderr, "relapse: resolving tonight's versions for the listing: %v\n", err)
		}
		data, _ := json.MarshalIndent(cells, "", "  ")
		fmt.Println(string(data))
		return exitVerdict
	}
	if *manifest != "" {
		return printManifest(sel, cells, *manifest)
	}
	return sel.run(ctx, cells, *resultsDir)
}

// run runs the cells here or as an Indexed Job, into results.
func (m *matrixSelection) run(ctx context.Context, cells []matrixpkg.Cell, results string) int {
	if !m.job {
		outs := matrixpkg.Run(ctx, cells, matrixpkg.Options{Results: results, Parallel: m.parallel, LockWait: m.lockWait, Log: stderrLog})
		return printCells(ctx, outs, !m.staging)
	}
	// Host cells wait for each other's lock inside the Job: as long as the
	// cells before them may take.
	wait := m.lockWait
	if wait == 0 {
		wait = time.Duration(len(cells)) * 20 * time.Minute
	}
	out, err := matrixjob.Run(ctx, matrixjob.Options{File: m.file, Speed: m.speed, Canaries: m.canaries, Sources: m.sources, Cells: cells,
		Parallelism: m.parallel, Kubernetes: m.kubernetes, Results: results, ReportsDir: filepath.Join(results, "job-cluster"),
		LockWait: wait, Log: stderrLog})
	if out != nil {
		for _, ix := range out.Indexes {
			fmt.Printf("index %-3d %-60s %-9s %s\n", ix.Index, ix.Cell, ix.Phase, ix.Finished.Sub(ix.Started).Round(time.Second))
		}
		fmt.Printf("indexed job: %d of %d cells ran, at most %d pods at once, %s\n", out.Succeeded(), len(cells), out.MostRunning, out.Took.Round(time.Second))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailed
	}
	return exitVerdict
}

// printManifest prints the Indexed Job for the selection.
func printManifest(m *matrixSelection, cells []matrixpkg.Cell, results string) int {
	self, _ := os.Executable()
	repo, _ := os.Getwd()
	state := filepath.Join(run.StateDir(), "matrix-job")
	job, err := matrixjob.Manifest(matrixjob.Spec{Name: "relapse-matrix", Namespace: "default", Image: "busybox:1.36",
		Cells: len(cells), Parallelism: m.parallel, Relapse: self, Repo: repo, File: m.file, Speed: m.speed, Canaries: m.canaries,
		Sources: m.sources, Results: results, State: state, LockWait: time.Duration(len(cells)) * 20 * time.Minute, Path: os.Getenv("PATH")})
	if err == nil {
		var text string
		if text, err = matrixjob.YAML(job); err == nil {
			fmt.Print(text)
			return exitVerdict
		}
	}
	fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
	return exitUsage
}

// printCells prints one line per cell and the exit status of a matrix run.
func printCells(ctx context.Context, outs []matrixpkg.Outcome, showDirs bool) int {
	status := exitVerdict
	for _, o := range outs {
		if o.Report == nil {
			fmt.Printf("%-60s ERROR %v\n", o.Cell.ID, o.Err)
			status = exitFailed
			continue
		}
		v := o.Report.Verdict
		dir := ""
		if showDirs {
			dir = o.Dir
		}
		fmt.Printf("%-60s %-15s expected %-15s %s  %s\n", o.Cell.ID, v.Result, v.Expected, v.Rate, dir)
		if v.Cause == report.CauseEvidence && v.Expected != "" && !v.Matches && status == exitVerdict {
			status = exitMismatch
		}
	}
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return status
}

func nightly(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("nightly", flag.ContinueOnError)
	sel := addMatrixFlags(fs)
	store := fs.String("store", "results-store", "the append-only history store")
	night := fs.String("night", "", "name of tonight (default: now, UTC)")
	dash := fs.String("dashboard", "", "write the dashboard here (default: STORE/dashboard.html)")
	canaryOK := fs.Bool("canary-ok", false, "a canary flagged RELAPSE is the night working, not failing")
	bisect := fs.Bool("bisect-relapses", true, "bisect each RELAPSE a selector row raises tonight, between the last good and the new version (or commit), and attach the result to the cell")
	bisectDeadline := fs.Duration("bisect-deadline", 3*time.Hour, "how long tonight's bisections may take together")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	f, cells, err := sel.cells(ctx)
	if err != nil {
		return selectionFailed(err)
	}
	if *bisect && *bisectDeadline <= 0 {
		return usageError(fmt.Errorf("--bisect-deadline %s: want a positive duration such as 3h (or --bisect-relapses=false)", *bisectDeadline))
	}
	if *night == "" {
		*night = resultspkg.NightName(time.Now())
	}
	if err := resultspkg.CheckNight(*night); err != nil {
		return usageError(fmt.Errorf("--night: %w", err))
	}
	work, err := os.MkdirTemp("", "relapse-nightly-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	defer os.RemoveAll(work)
	if sel.job {
		// The Job's cells write on the host through nsenter: a path every
		// process there sees, not this process's private /tmp view.
		if err := os.Chmod(work, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
			return exitFailed
		}
	}
	sel.staging = true
	runStatus := sel.run(ctx, cells, work)
	if runStatus == exitInterrupted {
		return runStatus
	}
	if _, err := resultspkg.Merge(*store, *night, work); err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	fmt.Printf("tonight's cells: %s\n", filepath.Join(*store, *night))
	bisected := exitVerdict
	if *bisect {
		bisected = bisectNight(ctx, os.Stdout, *store, cells, *bisectDeadline)
	}
	status := compareAndShow(*store, *dash, f.Name, *canaryOK)
	if status == exitVerdict && bisected != exitVerdict {
		return bisected
	}
	if status == exitVerdict && runStatus == exitFailed {
		return exitFailed
	}
	return status
}

// bisectStore is `relapse results --bisect-relapses`: the store's latest
// night bisected with the cells of the matrix file it ran.
func bisectStore(ctx context.Context, stdout io.Writer, store, file string, deadline time.Duration) int {
	_, cells, err := matrixpkg.Load(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: --file: %v\nnothing was bisected.\n", textutil.Printable(err.Error()))
		return exitUsage
	}
	// The night's cells as the night ran them: maintained expanded into
	// one cell per line, so a relapsed line's cell is found by its ID.
	night := matrixpkg.Night{List: matrixpkg.ProxyListing, Today: time.Now()}
	if cells, err = night.Resolve(ctx, cells); err != nil {
		fmt.Fprintf(os.Stderr, "relapse: resolving %s's versions: %v (cells that did not resolve cannot be bisected)\n", file, textutil.Printable(err.Error()))
	}
	return bisectNight(ctx, stdout, store, cells, deadline)
}

// bisectNight bisects every RELAPSE a selector row raised in the store's
// latest night (autobisect) and attaches each outcome to its cell, for
// the dashboard written after it. A bisection that did not find its
// commit is a finding on the dashboard, not a failure of the night; one
// that could not be attached is.
func bisectNight(ctx context.Context, stdout io.Writer, store string, cells []matrixpkg.Cell, deadline time.Duration) int {
	nights, byNight, err := resultspkg.Load(store)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: bisecting the night's relapses: %v\n", err)
		return exitFailed
	}
	plans := autobisect.Plans(resultspkg.Compare(nights, byNight), cells)
	if len(plans) == 0 {
		return exitVerdict
	}
	fmt.Fprintf(stdout, "bisecting %d relapse(s), at most %s\n", len(plans), deadline)
	outs, err := autobisect.Run(ctx, plans, autobisect.Options{Deadline: deadline, Log: stderrLog})
	for i, b := range outs {
		fmt.Fprintf(stdout, "  %s: %s\n", textutil.Printable(plans[i].Row), textutil.Printable(b.Line()))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitVerdict
}
