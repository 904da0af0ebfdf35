package autobisect

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/bisect"
	"github.com/relapse-dev/relapse/harness/matrix"
	"github.com/relapse-dev/relapse/harness/prowjob"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/results"
	_ "github.com/relapse-dev/relapse/harness/scenarios"
)

// run is one night of a row: what its selector resolved to and the verdict.
type run struct {
	version, commit, verdict string
}

// meta is a selector cell's finished.json metadata, as relapse matrix
// writes it.
func meta(id, selector string, r run) map[string]string {
	m := map[string]string{"cell": id, "scenario": oldName, "bug": "containerd#5261", "fix": "runc#2871",
		"affected": ">= 1.0.0-rc93, < 1.0.0-rc94", "component": "runc", "version": r.version, "version_runc": r.version,
		"version_containerd": "v1.7.30", "verdict": r.verdict, "k": "1", "n": "1", "selector": selector, "selected": selector + " = " + r.version}
	if r.commit != "" {
		m["commit_runc"] = r.commit
	}
	return m
}

// store writes nights of cells (row ID -> its nights, oldest first) and
// merges them as relapse nightly does; a cell with a nil night did not run.
func store(t *testing.T, rows map[string][]map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	nights := 0
	for _, ns := range rows {
		nights = max(nights, len(ns))
	}
	for n := range nights {
		src := t.TempDir()
		start := int64(1000 * (n + 1))
		for id, ns := range rows {
			if n >= len(ns) || ns[n] == nil {
				continue
			}
			writeCell(t, filepath.Join(src, id), start, ns[n])
		}
		if _, err := results.Merge(dir, fmt.Sprintf("night-%d", n+1), src); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeCell(t *testing.T, dir string, start int64, m map[string]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "artifacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	m["cell"] = filepath.Base(dir)
	for name, v := range map[string]any{
		prowjob.StartedName:  map[string]any{"timestamp": start},
		prowjob.FinishedName: map[string]any{"timestamp": start + 30, "passed": true, "result": "SUCCESS", "metadata": m},
	} {
		data, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func compare(t *testing.T, dir string) *results.Comparison {
	t.Helper()
	nights, byNight, err := results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return results.Compare(nights, byNight)
}

// The bug's cells were named after runc-pipe-hang until the kit named it
// after its upstream id (containerd-5261, the old name an alias): the
// rows carry the old nights over to the new name.
const (
	oldName   = "runc-pipe-hang"
	newName   = "containerd-5261"
	latestRow = newName + ".runc-latest"
	gitCell   = oldName + ".runc-git_src_runc_main"
	gitRow    = newName + ".runc-git_src_runc_main"
	gitSel    = "git:/src/runc@main"
	goodSHA   = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	badSHA    = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// matrixCells are the cells of the rows, as a matrix file gives them.
var matrixCells = []matrix.Cell{
	{ID: latestRow, Scenario: newName, Provider: "local", Repeat: 3,
		Versions: map[string]string{"runc": "latest", "containerd": "latest"}, Params: map[string]string{"engine": "containerd"}},
	{ID: gitCell, Scenario: oldName, Provider: "local", Versions: map[string]string{"runc": gitSel}},
}

func planFor(t *testing.T, plans []Plan, row string) Plan {
	t.Helper()
	for _, p := range plans {
		if p.Row == row {
			return p
		}
	}
	t.Fatalf("no plan for %s in %d plan(s)", row, len(plans))
	return Plan{}
}

// Which relapses are bisected, between which ends, with what: the pure
// part of the hook, over a store with fake verdicts.
func TestPlans(t *testing.T) {
	canary := meta("runc-pipe-hang.runc-latest.patch-revert-2871", "latest", run{"v1.5.4", "", "REPRODUCED"})
	relapsed := meta(latestRow, "latest", run{"v1.5.4", "", "REPRODUCED"})
	relapsed["scenario"] = newName
	canary["reverts"] = "runc#2871"
	dir := store(t, map[string][]map[string]string{
		// A release selector: v1.5.2 clean, v1.5.3 clean (under the old
		// name), v1.5.4 reproduced (under the new one).
		oldName + ".runc-latest": {meta("a", "latest", run{"v1.5.2", "", "NOT REPRODUCED"}), meta("a", "latest", run{"v1.5.3", "", "NOT REPRODUCED"})},
		latestRow:                {nil, nil, relapsed},
		// Upstream main: a new commit reproduced.
		gitCell: {meta(gitCell, gitSel, run{"v1.6.0-0.dev", goodSHA, "NOT REPRODUCED"}), nil,
			meta(gitCell, gitSel, run{"v1.6.0-0.dev", badSHA, "REPRODUCED"})},
		// A git row whose good night recorded no commit.
		"runc-pipe-hang.runc-git_x_main": {meta("x", "git:/x@main", run{"v1.6.0-0.dev", "", "NOT REPRODUCED"}), nil,
			meta("x", "git:/x@main", run{"v1.6.1-0.dev", badSHA, "REPRODUCED"})},
		// A selector row that reproduced on its first night, past the fix.
		"runc-pipe-hang.runc-latest-1.4": {nil, nil, meta("y", "latest-1.4", run{"v1.4.4", "", "REPRODUCED"})},
		// A row the matrix file no longer has.
		"runc-pipe-hang.runc-latest-1.3": {meta("z", "latest-1.3", run{"v1.3.6", "", "NOT REPRODUCED"}), nil,
			meta("z", "latest-1.3", run{"v1.3.7", "", "REPRODUCED"})},
		// Not bisected: a canary (relapses on purpose), a named version.
		"runc-pipe-hang.runc-latest.patch-revert-2871": {nil, nil, canary},
		"runc-pipe-hang.runc-1.1.14":                   {meta("w", "", run{"v1.1.14", "", "NOT REPRODUCED"}), nil, meta("w", "", run{"v1.1.14", "", "REPRODUCED"})},
	})
	plans := Plans(compare(t, dir), matrixCells)
	if len(plans) != 5 {
		for _, p := range plans {
			t.Logf("plan %s: %+v", p.Row, p.Want)
		}
		t.Fatalf("%d plans, want 5: the canary and the row with no selector are not bisected", len(plans))
	}

	p := planFor(t, plans, latestRow)
	if p.Search != OverReleases || p.Want.Missing != "" {
		t.Fatalf("latest row: search %q missing %q, want over releases", p.Search, p.Want.Missing)
	}
	o := p.Options
	if got := fmt.Sprint(o.Good, o.Bad); got != "[v1.5.3] [v1.5.4]" {
		t.Errorf("latest row: ends %s, want the newest clean version (night 2's) and the relapsed one", got)
	}
	if p.Want.GoodNight != "night-2" || p.Night != "night-3" || !strings.HasSuffix(p.CellDir, filepath.Join("night-3", latestRow)) {
		t.Errorf("latest row: good night %s, night %s, cell %s", p.Want.GoodNight, p.Night, p.CellDir)
	}
	if o.Scenario != newName || o.Component != "runc" || o.Repeat != 3 || o.Params["engine"] != "containerd" || o.Node.Provider != "local" {
		t.Errorf("latest row: options %+v, want the cell's scenario, repeats, parameters and node", o)
	}
	if o.Versions["containerd"] != "v1.7.30" || len(o.Versions) != 1 {
		t.Errorf("latest row: other versions %v, want containerd held at what the night ran (not latest again)", o.Versions)
	}

	p = planFor(t, plans, gitRow)
	if p.Search != OverCommits || p.Remote != "/src/runc" || fmt.Sprint(p.Options.Good, p.Options.Bad) != fmt.Sprint([]string{goodSHA}, []string{badSHA}) {
		t.Errorf("git row: search %q remote %q ends %v %v, want the remote's commits of night 1 and night 3", p.Search, p.Remote, p.Options.Good, p.Options.Bad)
	}
	for row, want := range map[string]string{
		newName + ".runc-git_x_main": "night night-1 of row " + newName + ".runc-git_x_main recorded no runc commit",
		newName + ".runc-latest-1.4": "no earlier night of row " + newName + ".runc-latest-1.4 was NOT REPRODUCED",
		newName + ".runc-latest-1.3": "cell runc-pipe-hang.runc-latest-1.3 is not in the matrix file",
	} {
		p := planFor(t, plans, row)
		if p.Search != "" || !strings.Contains(p.Want.Missing, want) {
			t.Errorf("%s: search %q, missing %q, want it to say %q", row, p.Search, p.Want.Missing, want)
		}
	}
}

// fakeBisect is a bisection with fake verdicts: the versions (or
// commits) from bad on are bad. It writes a step report with a JUnit, as
// a real step does.
func fakeBisect(t *testing.T, candidates []string, firstBad int, calls *int) Bisector {
	return func(ctx context.Context, o bisect.Options, self string) (*bisect.Result, error) {
		*calls++
		if o.LockWait <= 0 {
			t.Errorf("lock wait %s: a step would be skipped whenever another run holds the host", o.LockWait)
		}
		res := &bisect.Result{Scenario: o.Scenario, Component: o.Component, Source: o.Source, Candidates: candidates,
			Bug: report.Bug{ID: "containerd#5261", Title: "runc hangs exporting a large seccomp filter"}}
		for i, v := range candidates {
			step := bisect.Step{Version: v, Label: bisect.Good, Result: report.NotReproduced, Report: filepath.Join(o.ReportsDir, "step-"+v)}
			if i >= firstBad {
				step.Label, step.Result = bisect.Bad, report.Reproduced
			}
			if err := os.MkdirAll(step.Report, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(step.Report, "junit.xml"), []byte("<testsuites/>"), 0o644); err != nil {
				t.Fatal(err)
			}
			res.Steps = append(res.Steps, step)
		}
		res.Boundaries = []bisect.Boundary{{Kind: "introduced", Before: candidates[firstBad-1], After: candidates[firstBad]}}
		return res, nil
	}
}

// What is attached to the relapsed cell, and what the store then shows.
func TestRunAttachesTheFirstBadVersion(t *testing.T) {
	dir := store(t, map[string][]map[string]string{latestRow: {
		meta(latestRow, "latest", run{"v1.5.1", "", "NOT REPRODUCED"}), meta(latestRow, "latest", run{"v1.5.4", "", "REPRODUCED"})}})
	plans := Plans(compare(t, dir), matrixCells)
	calls := 0
	outs, err := Run(context.Background(), plans, Options{Deadline: time.Hour, Bisect: fakeBisect(t, []string{"v1.5.1", "v1.5.2", "v1.5.4"}, 2, &calls)})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(outs) != 1 {
		t.Fatalf("%d bisections, %d outcomes, want 1", calls, len(outs))
	}
	b := outs[0]
	if b.FirstBad != "v1.5.4" || b.LastGood != "v1.5.2" || b.Experiments != 3 {
		t.Errorf("outcome %+v, want first bad v1.5.4 after v1.5.2 in 3 experiments", b)
	}
	if len(b.Skipped) != 1 || !strings.HasPrefix(b.Skipped[0], "v1.5.3 (not listed by the Go module proxy") {
		t.Errorf("skipped %v, want v1.5.3 named: the proxy did not list it, so the first bad may be it", b.Skipped)
	}

	// The store reads it back: the cell carries its bisection, and the
	// dashboard links the page and the summary.
	cmp := compare(t, dir)
	e := cmp.Rows[0].Entries[cmp.Latest()]
	if e.Bisection == nil || e.Bisection.FirstBad != "v1.5.4" || e.BisectPage == "" || e.BisectSummary == "" {
		t.Fatalf("the store's entry has bisection %+v, page %q, summary %q", e.Bisection, e.BisectPage, e.BisectSummary)
	}
	var page strings.Builder
	if err := results.Dashboard(&page, "nightly", cmp, dir); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bisected: first bad runc v1.5.4, last good v1.5.2", `href="night-2/` + latestRow + `/artifacts/bisect/bisect.html"`, "summary.md</a>"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	summary, err := os.ReadFile(e.BisectSummary)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### runc latest: containerd#5261 is back", "Night night-1 it resolved to `v1.5.1` and did not reproduce",
		"**First bad version: `v1.5.4`** (last good: `v1.5.2`)", "relapse repro --scenario " + newName + " --version runc=1.5.4 --version containerd=v1.7.30 --param engine=containerd",
		"| step | version |"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, summary)
		}
	}
	junit, _ := filepath.Glob(filepath.Join(filepath.Dir(e.BisectPage), "steps", "*", "junit*.xml"))
	if len(junit) > 0 {
		t.Errorf("step JUnit files %v left in the cell: TestGrid would count them as the cell's tests", junit)
	}
	// A night compared again is not bisected again.
	if again := Plans(cmp, matrixCells); len(again) != 0 {
		t.Errorf("%d plan(s) for a cell already bisected", len(again))
	}
}

// Without a source to bisect, the outcome says what is needed, and no
// search runs: a source row whose last good commit is gone, a row with
// no good night.
func TestRunSaysWhatItNeeds(t *testing.T) {
	src := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", src}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@localhost", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@localhost")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module github.com/opencontainers/runc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "-A")
	git("commit", "-q", "-m", "one")
	head := git("rev-parse", "HEAD")
	sel, gitSel := "source:"+src, "git:"+src+"@main"
	row, gitRow := "runc-pipe-hang.runc-main", "runc-pipe-hang.runc-git-main"
	dir := store(t, map[string][]map[string]string{
		row:                              {meta(row, sel, run{"v0.0.0-source-1", goodSHA, "NOT REPRODUCED"}), meta(row, sel, run{"v0.0.0-source-2", head, "REPRODUCED"})},
		gitRow:                           {meta(row, gitSel, run{"v0.0.0-source-1", goodSHA, "NOT REPRODUCED"}), meta(row, gitSel, run{"v0.0.0-source-2", head, "REPRODUCED"})},
		"runc-pipe-hang.runc-latest-1.4": {nil, meta("y", "latest-1.4", run{"v1.4.4", "", "REPRODUCED"})},
	})
	cells := append([]matrix.Cell{{ID: row, Scenario: "runc-pipe-hang", Provider: "local", Versions: map[string]string{"runc": sel}},
		{ID: gitRow, Scenario: oldName, Provider: "local", Versions: map[string]string{"runc": gitSel}}}, matrixCells...)
	plans := Plans(compare(t, dir), cells)
	calls := 0
	// The git: row's remote is fetched into this cache, as relapse's own.
	outs, err := Run(context.Background(), plans, Options{Deadline: time.Hour, CacheDir: t.TempDir(), Bisect: fakeBisect(t, []string{"a", "b"}, 1, &calls)})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 || len(outs) != 3 {
		t.Fatalf("%d bisections ran for %d outcomes, want none for 3", calls, len(outs))
	}
	for _, b := range outs {
		want := "no earlier night"
		if b.Selector == sel || b.Selector == gitSel {
			want = "the last good commit aaaaaaaaaaaa (night night-1) is not in " + src + " any more"
		}
		if !strings.Contains(b.Missing, want) || b.Found() {
			t.Errorf("%s: missing %q, want it to say %q", b.Selector, b.Missing, want)
		}
	}
	cmp := compare(t, dir)
	for _, r := range cmp.Rows {
		e := r.Entries[cmp.Latest()]
		if e.Bisection == nil || !strings.HasPrefix(e.Bisection.Line(), "not bisected: ") {
			t.Errorf("%s: the store shows %+v, want what is missing", r.Cell, e.Bisection)
		}
		if summary, err := os.ReadFile(e.BisectSummary); err != nil || !strings.Contains(string(summary), "**Not bisected:**") {
			t.Errorf("%s: summary.md %q (%v), want it to say it was not bisected", r.Cell, summary, err)
		}
	}
}

// A bisection cut short by the deadline is attached with why it stopped.
func TestRunStopsAtTheDeadline(t *testing.T) {
	dir := store(t, map[string][]map[string]string{latestRow: {
		meta(latestRow, "latest", run{"v1.5.3", "", "NOT REPRODUCED"}), meta(latestRow, "latest", run{"v1.5.4", "", "REPRODUCED"})}})
	blocked := func(ctx context.Context, o bisect.Options, self string) (*bisect.Result, error) {
		<-ctx.Done()
		return &bisect.Result{Steps: []bisect.Step{{Version: "v1.5.3", Label: bisect.Good}}}, ctx.Err()
	}
	outs, err := Run(context.Background(), Plans(compare(t, dir), matrixCells), Options{Deadline: time.Nanosecond, Bisect: blocked})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Found() || !strings.Contains(outs[0].Error, "deadline") {
		t.Fatalf("outcomes %+v, want one cut short at the deadline", outs)
	}
	if _, err := Run(context.Background(), nil, Options{}); err == nil || !strings.Contains(err.Error(), "want a positive duration") {
		t.Errorf("no deadline: error %v, want one asking for it", err)
	}
}
