package results

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/relapse-dev/relapse/harness/report"
)

// Entry is one cell of one night.
type Entry struct {
	Night    string
	Cell     string
	Dir      string
	Started  int64
	Finished int64
	Passed   bool
	Result   string
	Meta     map[string]string
	// Report is the cell's report page (report.html), checked to be a
	// regular file inside the cell; "" when it has none.
	Report string
	// Bisection is the automatic bisection attached to the cell when it
	// relapsed (nil when none is); BisectPage and BisectSummary its page
	// and tracker text, checked as Report is.
	Bisection                 *Bisection
	BisectPage, BisectSummary string
}

// Verdict is the entry's verdict ("" when the cell did not get one).
func (e Entry) Verdict() report.Result { return report.Result(e.Meta["verdict"]) }

// Build identifies what ran: every component's version, module sum and
// patches, and the kernel. The same build on two nights with two verdicts
// is flaky.
func (e Entry) Build() string {
	var parts []string
	for k, v := range e.Meta {
		if strings.HasPrefix(k, "version_") || strings.HasPrefix(k, "sum_") || strings.HasPrefix(k, "commit_") || strings.HasPrefix(k, "patches_") || k == "kernel" {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Canary says whether the entry relapses on purpose: its matrix marked it
// so, or a patch it ran reverts its bug's own fix (metadata.reverts). A
// fix-revert cell is a canary by construction, marked or not: it
// reproduces past the fix because it was built to.
func (e Entry) Canary() bool {
	if e.Meta["canary"] == "true" {
		return true
	}
	fix := e.Meta["fix"]
	return fix != "" && slices.Contains(strings.Split(e.Meta["reverts"], ","), fix)
}

// Selector is how the judged component's version was chosen when a
// selector chose it ("latest", "latest-1.4", "maintained"; "" for a
// version named as such).
func (e Entry) Selector() string { return e.Meta["selector"] }

// Resolved is what the judged component resolved to: its version, and
// the commit when the cell recorded one (a git source's commits share a
// version).
func (e Entry) Resolved() string {
	v := e.Meta["version"]
	if c := e.Meta["commit_"+e.Meta["component"]]; c != "" {
		v += " " + shortCommit(c)
	}
	return v
}

// shortCommit is a commit as git log --oneline shows it.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// Relapse says whether the entry reproduced the bug on a version at or
// after its fix: outside the affected range and not before it.
func (e Entry) Relapse() bool {
	if e.Verdict() != report.Reproduced || e.Meta["affected"] == "" || e.Meta["version"] == "" {
		return false
	}
	v, err := semver.NewVersion(strings.TrimPrefix(e.Meta["version"], "v"))
	if err != nil {
		return false
	}
	c, err := semver.NewConstraint(e.Meta["affected"])
	if err != nil {
		return false
	}
	return !c.Check(v) && !report.BeforeRange(e.Meta["affected"], v)
}

// ReportPage is the entry's relapse report, if there is one.
func (e Entry) ReportPage() string { return e.Report }

// Load reads every night of a store, oldest first. Every cell is read
// with ReadCell; a store holding anything else than nights of cells (a
// link, a file in a night, a directory that is no night or cell, a cell
// ReadCell refuses) is refused with every such path named. Files beside
// the nights (dashboard.html) and hidden entries (a merge's staging) are
// not nights.
func Load(store string) ([]string, map[string]map[string]Entry, error) {
	nights, err := os.ReadDir(store)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the results store: %w", err)
	}
	type nightInfo struct {
		name  string
		start int64
	}
	var infos []nightInfo
	var problems []error
	byNight := map[string]map[string]Entry{}
	for _, n := range nights {
		path := filepath.Join(store, n.Name())
		switch {
		case strings.HasPrefix(n.Name(), "."):
			continue
		case n.Type().IsRegular():
			continue
		case !n.IsDir():
			problems = append(problems, fmt.Errorf("%s: a %s in the results store: a night is a directory", path, kind(n.Type())))
			continue
		}
		if err := CheckNight(n.Name()); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			continue
		}
		entries, errs := loadNight(path)
		problems = append(problems, errs...)
		if len(entries) == 0 {
			continue
		}
		var first int64
		for _, e := range entries {
			if first == 0 || e.Started < first {
				first = e.Started
			}
		}
		byNight[n.Name()] = entries
		infos = append(infos, nightInfo{n.Name(), first})
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("the results store %s holds what relapse did not merge (%d problem(s)); nothing was compared:\n%w", store, len(problems), errors.Join(problems...))
	}
	// Nights in the order they ran: by the first cell's start, then by
	// name with numbers as numbers (run-9 before run-10, as the GitHub
	// workflow names them).
	sort.Slice(infos, func(i, j int) bool {
		if infos[i].start != infos[j].start {
			return infos[i].start < infos[j].start
		}
		return compareNightNames(infos[i].name, infos[j].name) < 0
	})
	var order []string
	for _, i := range infos {
		order = append(order, i.name)
	}
	return order, byNight, nil
}

// loadNight reads the cells of one night, with a problem per refused path.
func loadNight(path string) (map[string]Entry, []error) {
	cells, err := os.ReadDir(path)
	if err != nil {
		return nil, []error{err}
	}
	if len(cells) == 0 {
		return nil, []error{fmt.Errorf("%s: a night with no cell: a merge makes a night with its cells or not at all", path)}
	}
	var problems []error
	entries := map[string]Entry{}
	night := filepath.Base(path)
	for _, c := range cells {
		e, err := ReadCell(filepath.Join(path, c.Name()))
		if err != nil {
			problems = append(problems, err)
			continue
		}
		e.Night = night
		entries[e.Cell] = e
	}
	return entries, problems
}

// numberedNight is a night named PREFIX-N or PREFIXN (run-42).
var numberedNight = regexp.MustCompile(`^(.*?)([0-9]+)$`)

// compareNightNames orders names with the same prefix and a trailing
// number by the number, others as text.
func compareNightNames(a, b string) int {
	ma, mb := numberedNight.FindStringSubmatch(a), numberedNight.FindStringSubmatch(b)
	if ma != nil && mb != nil && ma[1] == mb[1] {
		na, nb := strings.TrimLeft(ma[2], "0"), strings.TrimLeft(mb[2], "0")
		if c := cmp.Compare(len(na), len(nb)); c != 0 {
			return c
		}
		if c := strings.Compare(na, nb); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

// NightName is a name for a night that has none: the UTC date and time.
func NightName(t time.Time) string { return t.UTC().Format("2006-01-02T1504") }

// parseInt reads a metadata number (0 when absent).
func parseInt(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
