package matrix

import (
	"context"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/prowjob"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/results"
	"github.com/relapse-dev/relapse/harness/versions"
)

// tonight is the day the fake listings are read on.
var tonight = time.Date(2026, 12, 6, 2, 17, 0, 0, time.UTC)

// fakeProxy lists fixed versions per component and counts the listings.
type fakeProxy struct {
	listed map[string][]string
	asked  map[string]int
}

func (p *fakeProxy) list(_ context.Context, c versions.Component) ([]string, error) {
	if p.asked == nil {
		p.asked = map[string]int{}
	}
	p.asked[c.Name]++
	l, ok := p.listed[c.Name]
	if !ok {
		return nil, errors.New("the proxy is unreachable")
	}
	return l, nil
}

func newProxy() *fakeProxy {
	return &fakeProxy{listed: map[string][]string{
		"runc":       {"v1.0.0-rc93", "v1.1.14", "v1.3.0", "v1.3.7", "v1.4.0", "v1.4.4", "v1.5.0", "v1.5.3", "v1.6.0-rc.1"},
		"containerd": {"v1.6.2", "v1.6.3", "v1.7.30", "v2.0.14", "v2.3.7", "v2.4.2", "v2.5.0-beta.0"},
	}}
}

func parseCells(t *testing.T, text string) []Cell {
	t.Helper()
	_, cells, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cells
}

// maintained becomes one cell per maintained line (runc: the three newest
// lines, pre-releases left out), each running latest-X.Y of its line and
// saying maintained was asked; the proxy is listed once per component
// however many cells ask.
func TestMaintainedExpandsIntoOneCellPerLine(t *testing.T) {
	cells := parseCells(t, `cells:
  - scenario: runc-pipe-hang
    versions:
      runc: [rc93, maintained]
  - scenario: runc-seccomp-errnoret
    versions:
      runc: [maintained]
`)
	proxy := newProxy()
	got, err := Night{List: proxy.list, Today: tonight}.Resolve(context.Background(), cells)
	if err != nil {
		t.Fatal(err)
	}
	want := "runc-pipe-hang.runc-maintained-1.3 runc-pipe-hang.runc-maintained-1.4 runc-pipe-hang.runc-maintained-1.5 " +
		"runc-pipe-hang.runc-rc93 runc-seccomp-errnoret.runc-maintained-1.3 runc-seccomp-errnoret.runc-maintained-1.4 " +
		"runc-seccomp-errnoret.runc-maintained-1.5"
	if ids(got) != want {
		t.Fatalf("cells = %q; want %q", ids(got), want)
	}
	line := got[1]
	if line.Versions["runc"] != "latest-1.4" || line.Requested["runc"] != "maintained" || line.Resolved["runc"] != "v1.4.4" {
		t.Errorf("cell %s: versions %v requested %v resolved %v; want latest-1.4, maintained, v1.4.4", line.ID, line.Versions, line.Requested, line.Resolved)
	}
	if got[3].Requested != nil || got[3].Resolved != nil {
		t.Errorf("cell %s names its version; it got requested %v resolved %v", got[3].ID, got[3].Requested, got[3].Resolved)
	}
	if proxy.asked["runc"] != 1 {
		t.Errorf("the proxy was listed %d times for runc; want once", proxy.asked["runc"])
	}
	// Every expanded cell still passes the offline check a file's cells pass.
	for _, c := range got {
		if err := experiment.Check(c.options()); err != nil {
			t.Errorf("cell %s: %v", c.ID, err)
		}
	}
}

// A proxy that cannot be listed fails the resolution naming the cell, and
// leaves the cell as the file wrote it (a listing still shows it).
func TestMaintainedUnlistedIsAnError(t *testing.T) {
	cells := parseCells(t, "cells:\n  - scenario: containerd-metrics-deadlock\n    versions:\n      containerd: [maintained]\n")
	proxy := &fakeProxy{listed: map[string][]string{}}
	got, err := Night{List: proxy.list, Today: tonight}.Resolve(context.Background(), cells)
	if err == nil || !strings.Contains(err.Error(), "cell containerd-metrics-deadlock.containerd-maintained") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("err = %v; want the cell and the proxy's failure named", err)
	}
	if len(got) != 1 || got[0].Versions["containerd"] != "maintained" {
		t.Errorf("cells = %+v; want the file's cell as written", got)
	}
}

// gitRepo makes a repository with one commit and returns it with the commit.
func gitRepo(t *testing.T) (dir, commit string) {
	t.Helper()
	dir = t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "one"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return dir, strings.TrimSpace(string(out))
}

// git:upstream@main runs the checkout Sources name, recording the file's
// words as what was asked; without a checkout the cell is skipped with
// what it needs.
func TestUpstreamCellsFollowSources(t *testing.T) {
	text := "cells:\n  - scenario: runc-pipe-hang\n    versions:\n      runc: [\"git:upstream@main\"]\n"
	dir, commit := gitRepo(t)
	got, err := Night{List: newProxy().list, Today: tonight, Sources: Sources{"runc": dir}}.Resolve(context.Background(), parseCells(t, text))
	if err != nil {
		t.Fatal(err)
	}
	c := got[0]
	if c.ID != "runc-pipe-hang.runc-git_upstream_main" || c.Versions["runc"] != "git:"+dir+"@main" || c.Requested["runc"] != "git:upstream@main" ||
		c.Resolved["runc"] != "commit "+commit || c.Skip != "" {
		t.Errorf("cell = %+v; want git:%s@main at commit %s, asked as git:upstream@main", c, dir, commit)
	}
	got, err = Night{List: newProxy().list, Today: tonight}.Resolve(context.Background(), parseCells(t, text))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got[0].Skip, "NIGHTLY_SOURCES=runc=DIR") || got[0].Versions["runc"] != "git:upstream@main" {
		t.Errorf("without a checkout: skip %q, versions %v; want a skip naming NIGHTLY_SOURCES=runc=DIR", got[0].Skip, got[0].Versions)
	}
}

func TestParseSources(t *testing.T) {
	dir, _ := gitRepo(t)
	plain := t.TempDir()
	ok, err := ParseSources(context.Background(), "runc="+dir+",containerd="+dir)
	if err != nil || ok["runc"] != dir || ok["containerd"] != dir {
		t.Fatalf("ParseSources = %v, %v", ok, err)
	}
	if s, err := ParseSources(context.Background(), ""); err != nil || len(s) != 0 {
		t.Errorf("empty: %v, %v; want no sources", s, err)
	}
	for text, want := range map[string]string{
		"runc":                         "want component=DIR",
		"runc=":                        "want component=DIR",
		"=" + dir:                      "want component=DIR",
		"runc=" + dir + ",":            "want component=DIR",
		"crun=" + dir:                  `"crun" is no component`,
		"runc=relative/dir":            "not a clean absolute path",
		"runc=" + dir + "/":            "not a clean absolute path (write it as " + dir + ")",
		"runc=" + dir + "/missing":     "is not a directory",
		"runc=" + plain:                "is not a git repository",
		"runc=" + dir + ",runc=" + dir: "names runc twice",
	} {
		if _, err := ParseSources(context.Background(), text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSources(%q) = %v; want an error with %q", text, err, want)
		}
	}
}

// The cells of a bug's declaration: both sides of the fix, every
// maintained line, and upstream main for runc and containerd only.
func TestBugCells(t *testing.T) {
	cells, err := BugCells(BugSpec{Scenario: "runc-pipe-hang", Component: "runc", LastAffected: "rc93", FirstFixed: "rc94"},
		BugSpec{Scenario: "kubelet-extra-sandbox", Component: "kubernetes", LastAffected: "1.19.3", FirstFixed: "1.19.4", Speed: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	want := "kubelet-extra-sandbox.kubernetes-1.19.3 kubelet-extra-sandbox.kubernetes-1.19.4 kubelet-extra-sandbox.kubernetes-maintained " +
		"runc-pipe-hang.runc-git_upstream_main runc-pipe-hang.runc-maintained runc-pipe-hang.runc-rc93 runc-pipe-hang.runc-rc94"
	if ids(cells) != want {
		t.Errorf("cells = %q; want %q", ids(cells), want)
	}
	if _, err := BugCells(BugSpec{Scenario: "runc-pipe-hang", Component: "runc", LastAffected: "rc93; id", FirstFixed: "rc94"}); err == nil {
		t.Error("a version that is none was accepted")
	}
}

// "A night with no new release rebuilds nothing": the nightly file
// resolved twice on one night (the same listing, the same upstream
// commit) gives every cell the same versions to build, so every build is
// the cache's (versions' build cache is keyed by version, module sum and
// source commit: TestTreeRecipeCache). A release on one line changes the
// cells of that line only, a new main commit the main cells only.
func TestSameNightRebuildsNothing(t *testing.T) {
	dir, _ := gitRepo(t)
	t.Chdir("../..") // the file's patch paths are relative to the repository root
	_, cells, err := Load("ci/nightly.yaml")
	if err != nil {
		t.Fatal(err)
	}
	proxy := newProxy()
	proxy.listed["kubernetes"] = []string{"v1.19.3", "v1.30.14", "v1.35.4", "v1.36.3", "v1.37.2"}
	night := Night{List: proxy.list, Today: tonight, Sources: Sources{"runc": dir, "containerd": dir}}
	resolve := func() map[string]string {
		got, err := night.Resolve(context.Background(), append([]Cell(nil), cells...))
		if err != nil {
			t.Fatal(err)
		}
		builds := map[string]string{}
		for _, c := range got {
			builds[c.ID] = buildOf(c)
		}
		return builds
	}
	first, again := resolve(), resolve()
	if !reflect.DeepEqual(first, again) {
		t.Errorf("the same night resolved twice builds differently:\nfirst %v\nagain %v", first, again)
	}
	for id, b := range first {
		if strings.Contains(b, "maintained") || strings.Contains(b, "latest") || strings.Contains(b, "upstream") {
			t.Errorf("cell %s builds %q: a selector left unresolved", id, b)
		}
	}
	// runc 1.5.4 is released and main moves on.
	proxy.listed["runc"] = append(proxy.listed["runc"], "v1.5.4")
	if out, err := exec.Command("git", "-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "two").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	next := resolve()
	for id, b := range next {
		changed := b != first[id]
		// runc latest is the 1.5 line's newest too (the chaos cell).
		want := strings.Contains(id, "runc-maintained-1.5") || strings.Contains(id, "runc-latest") || strings.Contains(id, "git_upstream_main")
		if changed != want {
			t.Errorf("cell %s: build %q -> %q; changed %v, want %v", id, first[id], b, changed, want)
		}
	}
}

// buildOf is what decides a cell's builds: each component's version as
// resolved tonight (a release, or a source commit) and its patches.
func buildOf(c Cell) string {
	var parts []string
	for _, name := range sortedKeys(c.Versions) {
		v := c.Versions[name]
		if r := c.Resolved[name]; r != "" {
			v = r
		}
		parts = append(parts, name+"="+v)
	}
	for _, name := range sortedKeys(flatten(c.Patches)) {
		parts = append(parts, name+"+"+strings.Join(c.Patches[name], "+"))
	}
	return strings.Join(parts, " ") + " " + c.Skip
}

// A skipped cell writes a complete cell directory: INCONCLUSIVE with the
// reason, a JUnit testcase TestGrid shows as skipped, a finished.json
// that passes; relapse results reads it.
func TestSkippedCellReportsInconclusive(t *testing.T) {
	root := t.TempDir()
	c := parseCells(t, "cells:\n  - scenario: containerd-metrics-deadlock\n    versions:\n      containerd: [\"git:upstream@main\"]\n")[0]
	c.Skip = "no containerd checkout for git:upstream@main: set NIGHTLY_SOURCES=containerd=DIR"
	outs := Run(context.Background(), []Cell{c}, Options{Results: root})
	if len(outs) != 1 || outs[0].Err != nil || outs[0].Report == nil || outs[0].Report.Verdict.Result != report.Inconclusive {
		t.Fatalf("outcome = %+v; want INCONCLUSIVE without an error", outs)
	}
	e, err := results.ReadCell(filepath.Join(root, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if !e.Passed || e.Result != prowjob.ResultSuccess || e.Meta["verdict"] != string(report.Inconclusive) || !strings.Contains(e.Meta["cause"], report.CauseMissing) {
		t.Errorf("entry = %+v; want a passed INCONCLUSIVE cell", e)
	}
	data, err := os.ReadFile(filepath.Join(root, c.ID, "artifacts", prowjob.JUnitFile(c.ID)))
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Cases []struct {
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testsuite>testcase"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatal(err)
	}
	if len(suites.Cases) != 1 || suites.Cases[0].Skipped == nil || !strings.Contains(suites.Cases[0].Skipped.Message, "NIGHTLY_SOURCES=containerd=DIR") {
		t.Errorf("JUnit = %s; want one skipped testcase with the reason", data)
	}
}

// A maintained line's cell records "maintained" as its selector (it ran
// latest-1.4), so its history row is "runc maintained 1.4" on every night
// whatever 1.4 resolved to.
func TestMaintainedCellRecordsItsSelector(t *testing.T) {
	c := Cell{ID: "containerd-5261.runc-maintained-1.4", Scenario: "containerd-5261", Provider: "local",
		Versions: map[string]string{"runc": "latest-1.4"}, Requested: map[string]string{"runc": "maintained"}}
	r := relapseOnFixedVersion()
	r.Verdict.Version = "v1.4.4"
	r.Components = []versions.Artifact{{Resolved: versions.Resolved{Component: "runc", Requested: "latest-1.4", Version: "v1.4.4",
		Selected: "latest-1.4 = v1.4.4: the newest release of the 1.4 line"}}}
	md := finished(c, r, nil).Metadata
	if md["selector"] != "maintained" || md["selector_runc"] != "maintained" || !strings.Contains(md["selected"], "v1.4.4") {
		t.Errorf("metadata selector %q / %q, selected %q; want maintained and how it resolved", md["selector"], md["selector_runc"], md["selected"])
	}
	nights := map[string]map[string]results.Entry{"n1": {c.ID: {Night: "n1", Cell: c.ID, Meta: md}}}
	cmp := results.Compare([]string{"n1"}, nights)
	if len(cmp.Rows) != 1 || cmp.Rows[0].Cell != c.ID || cmp.Rows[0].Selector != "maintained" {
		t.Errorf("rows = %+v; want one row %s for selector maintained", cmp.Rows, c.ID)
	}
}
