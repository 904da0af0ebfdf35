package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	resultspkg "github.com/relapse-dev/relapse/harness/results"
)

func resultsCmd(args []string) int {
	fs := flag.NewFlagSet("results", flag.ContinueOnError)
	store := fs.String("store", "results-store", "the append-only history store")
	night := fs.String("night", "", "name of the night being merged (default: now, UTC)")
	dash := fs.String("dashboard", "", "write the dashboard page here (default: STORE/dashboard.html)")
	name := fs.String("name", "relapse nightly", "the matrix's name on the dashboard")
	canaryOK := fs.Bool("canary-ok", false, "a canary flagged RELAPSE is the night working, not failing")
	var merge []string
	fs.Func("merge", "a matrix results directory to merge as the night (repeatable)", func(v string) error { merge = append(merge, v); return nil })
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if len(merge) > 0 {
		if *night == "" {
			*night = resultspkg.NightName(time.Now())
		}
		n, err := resultspkg.Merge(*store, *night, merge...)
		if err != nil {
			fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
			return exitFailed
		}
		fmt.Printf("merged %d cell(s) into night %s of %s\n", n, *night, *store)
	}
	return compareAndShow(*store, *dash, *name, *canaryOK)
}

// compareAndShow compares the store's nights, writes the dashboard and
// gives the exit status: 4 on a RELAPSE or a verdict that contradicts the
// affected range (a canary's RELAPSE only without canaryOK), 5 when a
// canary did not relapse (the night cannot catch one).
func compareAndShow(store, dash, name string, canaryOK bool) int {
	nights, byNight, err := resultspkg.Load(store)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	cmp := resultspkg.Compare(nights, byNight)
	if dash == "" {
		dash = filepath.Join(store, "dashboard.html")
	}
	var page strings.Builder
	if err := resultspkg.Dashboard(&page, name, cmp, filepath.Dir(dash)); err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	if err := os.WriteFile(dash, []byte(page.String()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	fmt.Printf("%d cells over %d night(s), latest %s; dashboard %s\n", len(cmp.Rows), len(cmp.Nights), cmp.Latest(), dash)
	for _, r := range cmp.Rows {
		if len(r.Flags) > 0 {
			fmt.Printf("  %-14s %s: %s\n", strings.Join(r.Flags, ","), r.Cell, strings.Join(r.Why, "; "))
		}
	}
	status := exitVerdict
	if len(cmp.Has(resultspkg.FlagRelapse, canaryOK)) > 0 || len(cmp.Has(resultspkg.FlagFailing, true)) > 0 {
		status = exitMismatch
	}
	if len(cmp.Has(resultspkg.FlagCanaryMissed, false)) > 0 {
		status = 5
	}
	return status
}
