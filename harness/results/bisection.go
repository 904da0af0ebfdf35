package results

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/prowjob"
)

// A RELAPSE in a selector row is bisected where it is raised (package
// autobisect), and what the bisection found is attached to the cell that
// relapsed: <cell>/artifacts/bisect/ holds bisection.json (read here, so
// the dashboard shows it), the bisection's own page (bisect.html, .md,
// .json), summary.md for the upstream tracker, and each step's report.

// Names of an attached bisection, under the cell's artifacts.
const (
	BisectDir     = "bisect"
	BisectionName = "bisection.json"
	// BisectPageName and BisectSummaryName are the page and the tracker
	// text the dashboard links to.
	BisectPageName    = "bisect.html"
	BisectSummaryName = "summary.md"
)

// Bisection is what the automatic bisection of a relapsed cell found, or
// why it could not run.
type Bisection struct {
	// Scenario, Component and Selector say what was bisected; Source is
	// the checkout or remote searched over commits ("" over releases).
	Scenario  string `json:"scenario"`
	Component string `json:"component"`
	Selector  string `json:"selector"`
	Source    string `json:"source,omitempty"`
	// Good is the last version (or commit) the row did not reproduce on,
	// Bad the newly resolved one that did; GoodNight the night of Good.
	Good      string `json:"good"`
	GoodNight string `json:"good_night,omitempty"`
	Bad       string `json:"bad"`
	// FirstBad is the first version or commit that reproduced, LastGood
	// the one before it ("" when the search did not end in a boundary).
	FirstBad string `json:"first_bad,omitempty"`
	LastGood string `json:"last_good,omitempty"`
	// Skipped are versions between them that could not be decided.
	Skipped []string `json:"skipped,omitempty"`
	// Missing says what a bisection needs and does not have (no earlier
	// version that passed, an old commit gone, a release no longer
	// served); Error what stopped one that ran.
	Missing string `json:"missing,omitempty"`
	Error   string `json:"error,omitempty"`
	// Experiments and Seconds are what it cost.
	Experiments int     `json:"experiments"`
	Seconds     float64 `json:"seconds"`
}

// Found says whether the bisection named a first bad version or commit.
func (b *Bisection) Found() bool { return b != nil && b.FirstBad != "" }

// Line is the bisection in one line, for a CI log and the dashboard.
func (b *Bisection) Line() string {
	switch {
	case b.Found():
		line := fmt.Sprintf("bisected: first bad %s %s, last good %s", b.Component, b.FirstBad, b.LastGood)
		if len(b.Skipped) > 0 {
			line += " (undecided between them: " + strings.Join(b.Skipped, ", ") + ")"
		}
		return line
	case b.Missing != "":
		return "not bisected: " + b.Missing
	case b.Error != "":
		return "bisection failed: " + b.Error
	}
	return fmt.Sprintf("bisected between %s and %s: no boundary", b.Good, b.Bad)
}

// readBisection reads the cell's attached bisection, if it has one:
// bisection.json parsed strictly, and the page and summary when they are
// regular files inside the cell. Nothing attached is no error.
func readBisection(d *os.File, e *Entry) error {
	base := filepath.Join(prowjob.ArtifactsName, BisectDir)
	ok, at, err := regularInside(d, filepath.Join(base, BisectionName))
	if err != nil {
		return &CellError{Dir: e.Dir, File: at, Err: err}
	}
	if !ok {
		return nil
	}
	dir, err := openPath(d, base)
	if err != nil {
		return &CellError{Dir: e.Dir, File: base, Err: err}
	}
	defer dir.Close()
	data, err := readSmall(dir, BisectionName)
	if err == nil {
		var b Bisection
		if err = decodeStrict(data, &b); err == nil {
			e.Bisection = &b
		}
	}
	if err != nil {
		return &CellError{Dir: e.Dir, File: filepath.Join(base, BisectionName), Err: err}
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{BisectPageName, &e.BisectPage}, {BisectSummaryName, &e.BisectSummary}} {
		rel := filepath.Join(base, f.name)
		ok, at, err := regularInside(d, rel)
		if err != nil {
			return &CellError{Dir: e.Dir, File: at, Err: err}
		}
		if ok {
			*f.to = filepath.Join(e.Dir, rel)
		}
	}
	return nil
}

// openPath opens the directory rel below d through directories only.
func openPath(d *os.File, rel string) (*os.File, error) {
	cur := d
	for _, p := range strings.Split(rel, string(filepath.Separator)) {
		next, err := openNoFollow(cur, p, unix.O_DIRECTORY)
		if cur != d {
			cur.Close()
		}
		if err != nil {
			return nil, err
		}
		cur = next
	}
	if cur == d {
		return nil, errors.New("empty path")
	}
	return cur, nil
}
