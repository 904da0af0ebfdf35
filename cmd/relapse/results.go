package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	resultspkg "github.com/relapse-dev/relapse/harness/results"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// exitCanaryMissed: a canary did not come out as a relapse, or did not
// run, so the night could not have caught one.
const exitCanaryMissed = 5

func resultsCmd(ctx context.Context, args []string) int {
	// What results prints comes from cells of many machines and goes to a
	// CI log (and GitHub's step summary): every line passes a LogWriter.
	return toLog(func(stdout, stderr io.Writer) int { return runResults(ctx, args, stdout, stderr) })
}

// toLog runs f with standard output and error made safe for a CI log,
// flushing both after it. A flush that fails has nowhere left to be
// reported: the status f returned stands.
func toLog(f func(stdout, stderr io.Writer) int) int {
	stdout, stderr := textutil.NewLogWriter(os.Stdout), textutil.NewLogWriter(os.Stderr)
	status := f(stdout, stderr)
	_ = stdout.Flush()
	_ = stderr.Flush()
	return status
}

// resultsFlags are `relapse results`'s flags.
type resultsFlags struct {
	store, night, dash, site, name string
	canaryOK                       bool
	merge                          []string
	// bisect: the latest night's relapses are bisected with the cells of
	// file, within deadline.
	bisect         bool
	file           string
	bisectDeadline time.Duration
}

func parseResultsFlags(args []string, stderr io.Writer) (*resultsFlags, error) {
	fs := flag.NewFlagSet("results", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &resultsFlags{}
	fs.StringVar(&f.store, "store", "results-store", "the append-only history store")
	fs.StringVar(&f.night, "night", "", "name of the night being merged (default: now, UTC); only with --merge")
	fs.StringVar(&f.dash, "dashboard", "", "write the dashboard page here (default: STORE/dashboard.html)")
	fs.StringVar(&f.site, "site", "", "also write a site to publish as it is: DIR/index.html (the dashboard) and every report it links to (DIR absent or empty)")
	fs.StringVar(&f.name, "name", "relapse nightly", "the matrix's name on the dashboard")
	fs.BoolVar(&f.canaryOK, "canary-ok", false, "a canary flagged RELAPSE is the night working, not failing")
	fs.BoolVar(&f.bisect, "bisect-relapses", false, "bisect each RELAPSE a selector row raised in the latest night and attach the result to the cell (the cells' parameters come from --file)")
	fs.StringVar(&f.file, "file", "ci/nightly.yaml", "the matrix file the night ran, for --bisect-relapses")
	fs.DurationVar(&f.bisectDeadline, "bisect-deadline", 3*time.Hour, "how long the bisections may take together")
	fs.Func("merge", "a matrix results directory (or one cell's) to merge as the night (repeatable)", func(v string) error {
		f.merge = append(f.merge, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err // flag printed it, with the flags
	}
	if err := f.check(fs.Args()); err != nil {
		return nil, resultsUsageError{err}
	}
	return f, nil
}

// resultsUsageError is a usage error results found after flag parsing (flag
// prints its own).
type resultsUsageError struct{ error }

// check refuses what cannot be meant, before anything is written.
func (f *resultsFlags) check(rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q: every input of results is a flag (--merge DIR for a results directory)", rest[0])
	}
	if f.night != "" && len(f.merge) == 0 {
		return errors.New("--night names the night being merged: give the directories to merge with --merge DIR")
	}
	if f.night != "" {
		if err := resultspkg.CheckNight(f.night); err != nil {
			return fmt.Errorf("--night: %w", err)
		}
	}
	for _, m := range f.merge {
		if info, err := os.Stat(m); err != nil || !info.IsDir() {
			return fmt.Errorf("--merge %s: not a directory; want a matrix run's results directory (relapse matrix --results) or one cell's", m)
		}
	}
	if len(f.merge) == 0 {
		if info, err := os.Stat(f.store); err != nil || !info.IsDir() {
			return fmt.Errorf("--store %s: no results store there; merge a night into it first (--merge DIR)", f.store)
		}
	}
	if f.bisect && f.bisectDeadline <= 0 {
		return fmt.Errorf("--bisect-deadline %s: want a positive duration such as 3h", f.bisectDeadline)
	}
	if f.bisect {
		if info, err := os.Stat(f.file); err != nil || !info.Mode().IsRegular() {
			return fmt.Errorf("--file %s: no matrix file there; --bisect-relapses runs each relapsed cell as the matrix file the night ran says (ci/nightly.yaml)", f.file)
		}
	}
	if f.site != "" {
		if err := resultspkg.CheckSite(f.site); err != nil {
			return fmt.Errorf("--site: %w", err)
		}
	}
	if f.dash != "" {
		if info, err := os.Stat(filepath.Dir(f.dash)); err != nil || !info.IsDir() {
			return fmt.Errorf("--dashboard %s: its directory %s does not exist", f.dash, filepath.Dir(f.dash))
		}
	}
	return nil
}

// runResults is `relapse results`: usage errors exit 2 before anything is
// written; a refused cell or store exits 1 naming the file.
func runResults(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseResultsFlags(args, stderr)
	if err != nil {
		if ue := (resultsUsageError{}); errors.As(err, &ue) {
			fmt.Fprintf(stderr, "relapse results: %v\nnothing was merged or written; see relapse results -h\n", ue.error)
		}
		return exitUsage
	}
	if len(f.merge) > 0 {
		if f.night == "" {
			f.night = resultspkg.NightName(time.Now())
		}
		n, err := resultspkg.Merge(f.store, f.night, f.merge...)
		if err != nil {
			fmt.Fprintf(stderr, "relapse: merging night %s: %v\nthe store was not changed.\n", f.night, err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "merged %d cell(s) into night %s of %s\n", n, f.night, f.store)
	}
	bisected := exitVerdict
	if f.bisect {
		if bisectRelapses == nil {
			return notInLeanBuild("results --bisect-relapses")
		}
		bisected = bisectRelapses(ctx, stdout, f.store, f.file, f.bisectDeadline)
		if bisected == exitUsage || bisected == exitInterrupted {
			return bisected
		}
	}
	status := showComparison(stdout, stderr, f.store, f.dash, f.site, f.name, f.canaryOK)
	if status == exitVerdict {
		return bisected
	}
	return status
}

// compareAndShow compares the store's nights and writes the dashboard,
// printing for a CI log (see showComparison).
func compareAndShow(store, dash, name string, canaryOK bool) int {
	return toLog(func(stdout, stderr io.Writer) int {
		return showComparison(stdout, stderr, store, dash, "", name, canaryOK)
	})
}

// showComparison compares the store's nights, writes the dashboard (and
// the site, when asked) and gives the exit status: 4 on a RELAPSE or a
// verdict that contradicts the affected range (a canary's RELAPSE only
// without canaryOK; a cell reverting its bug's fix is a canary, marked or
// not), 5 when a canary did not relapse or did not run (the night cannot
// show it would catch one). Text from cells is printed escaped (textutil.Printable).
func showComparison(stdout, stderr io.Writer, store, dash, site, name string, canaryOK bool) int {
	nights, byNight, err := resultspkg.Load(store)
	if err != nil {
		fmt.Fprintf(stderr, "relapse: %v\n", err)
		return exitFailed
	}
	cmp := resultspkg.Compare(nights, byNight)
	if dash == "" {
		dash = filepath.Join(store, "dashboard.html")
	}
	if err := resultspkg.WriteDashboard(dash, name, cmp); err != nil {
		fmt.Fprintf(stderr, "relapse: writing the dashboard: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%d cells over %d night(s), latest %s; dashboard %s\n", len(cmp.Rows), len(cmp.Nights), cmp.Latest(), dash)
	if site != "" {
		n, err := resultspkg.Publish(site, store, name, cmp)
		if err != nil {
			fmt.Fprintf(stderr, "relapse: writing the site: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "site %s: the dashboard and the %d report(s) it links to\n", site, n)
	}
	for _, r := range cmp.Rows {
		if len(r.Flags) > 0 {
			fmt.Fprintf(stdout, "  %-14s %s: %s\n", strings.Join(r.Flags, ","), textutil.Printable(r.Cell), textutil.Printable(strings.Join(r.Why, "; ")))
		}
		if e, ok := r.Entries[cmp.Latest()]; ok && e.Bisection != nil {
			fmt.Fprintf(stdout, "  %-14s %s: %s\n", "", textutil.Printable(r.Cell), textutil.Printable(e.Bisection.Line()))
			if e.BisectPage != "" {
				fmt.Fprintf(stdout, "  %-14s %s\n", "", textutil.Printable(e.BisectPage))
			}
		}
	}
	status := exitVerdict
	if len(cmp.Has(resultspkg.FlagRelapse, canaryOK)) > 0 || len(cmp.Has(resultspkg.FlagFailing, true)) > 0 {
		status = exitMismatch
	}
	if len(cmp.Has(resultspkg.FlagCanaryMissed, false)) > 0 {
		status = exitCanaryMissed
	}
	return status
}
