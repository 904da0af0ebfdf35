package versions

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	modsemver "golang.org/x/mod/semver"
)

// A selector names a version by a rule instead of by number, so that a
// nightly cell follows what upstream ships: "latest" is the newest
// release the Go module proxy lists, "latest-1.4" the newest patch of
// the 1.4 line, "maintained" the newest patch of every line upstream
// still maintains. Pre-releases never count: a selector follows what
// users run.
const (
	SelectLatest     = "latest"
	SelectMaintained = "maintained"
)

// selectorMinor is latest-X.Y.
var selectorMinor = regexp.MustCompile(`^latest-([0-9]+)\.([0-9]+)$`)

// Selector is a parsed version selector.
type Selector struct {
	// Text is the selector as written ("latest-1.4").
	Text string
	// Line is the minor line a latest-X.Y selector is limited to ("v1.4").
	Line string
}

// ParseSelector recognises latest, latest-X.Y and maintained.
func ParseSelector(s string) (Selector, bool) {
	switch s = strings.TrimSpace(s); {
	case s == SelectLatest || s == SelectMaintained:
		return Selector{Text: s}, true
	case selectorMinor.MatchString(s):
		m := selectorMinor.FindStringSubmatch(s)
		return Selector{Text: s, Line: "v" + m[1] + "." + m[2]}, true
	}
	return Selector{}, false
}

// IsSelector says whether s is a selector rather than an alias or a version.
func IsSelector(s string) bool { _, ok := ParseSelector(s); return ok }

// Maintenance says which minor lines of a component upstream still
// maintains, as upstream's own policy states it. Either rule may be
// set: the newest NewestLines lines of what the proxy lists, and/or the
// lines with an end-of-life date after the day asked about.
type Maintenance struct {
	// NewestLines: upstream maintains this many newest minor lines.
	NewestLines int
	// EndOfLife maps a minor line ("v2.3") to the day its support ends.
	EndOfLife map[string]time.Time
	// Source says where the rule comes from (a document and the day it was read).
	Source string
}

// releases keeps the releases of a listing (no pre-releases, no
// +incompatible builds), newest first.
func releases(listed []string) []string {
	var out []string
	for _, v := range listed {
		if modsemver.IsValid(v) && modsemver.Prerelease(v) == "" && modsemver.Build(v) == "" {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return modsemver.Compare(out[i], out[j]) > 0 })
	return out
}

// newestPerLine is the newest release of each minor line, newest line first.
func newestPerLine(listed []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range releases(listed) {
		if line := modsemver.MajorMinor(v); !seen[line] {
			seen[line] = true
			out = append(out, v)
		}
	}
	return out
}

// Pick applies the selector to a listing of the component's module
// versions (as the proxy lists them) on the given day. latest and
// latest-X.Y give one version; maintained gives one per maintained line,
// newest first.
func (s Selector) Pick(listed []string, m Maintenance, today time.Time) ([]string, error) {
	rel := releases(listed)
	if len(rel) == 0 {
		return nil, fmt.Errorf("%s: the listing has no release (only pre-releases or nothing)", s.Text)
	}
	switch {
	case s.Text == SelectLatest:
		return rel[:1], nil
	case s.Line != "":
		for _, v := range rel {
			if modsemver.MajorMinor(v) == s.Line {
				return []string{v}, nil
			}
		}
		return nil, fmt.Errorf("%s: no release of the %s line is listed (lines listed: %s)", s.Text, strings.TrimPrefix(s.Line, "v"), strings.Join(lines(rel), ", "))
	}
	if m.NewestLines == 0 && len(m.EndOfLife) == 0 {
		return nil, fmt.Errorf("%s: no maintenance policy is declared for this component; name a version or latest-X.Y", s.Text)
	}
	var out []string
	for i, v := range newestPerLine(rel) {
		eol, dated := m.EndOfLife[modsemver.MajorMinor(v)]
		if (m.NewestLines > 0 && i < m.NewestLines) || (dated && today.Before(eol)) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no listed line is maintained on %s by %s", s.Text, today.Format(time.DateOnly), m.Source)
	}
	return out, nil
}

func lines(rel []string) []string {
	var out []string
	for _, v := range newestPerLine(rel) {
		out = append(out, strings.TrimPrefix(modsemver.MajorMinor(v), "v"))
	}
	return out
}

// Select resolves a selector against what the Go module proxy lists now.
// A selector that names several versions (maintained) is refused here:
// one experiment runs one version; a matrix expands it into cells.
func (c Component) Select(ctx context.Context, s Selector, today time.Time) (version, how string, err error) {
	listed, err := c.Served(ctx)
	if err != nil {
		return "", "", err
	}
	return c.SelectFrom(listed, s, today)
}

// SelectFrom is Select over a listing the caller already has (a bisection
// lists the proxy once for its endpoints and its candidates).
func (c Component) SelectFrom(listed []string, s Selector, today time.Time) (version, how string, err error) {
	picked, err := s.Pick(listed, c.Maintenance, today)
	if err != nil {
		return "", "", fmt.Errorf("%s version %w", c.Name, err)
	}
	if len(picked) > 1 {
		return "", "", fmt.Errorf("%s version %q names %d versions (%s): one run takes one; name a line (latest-%s) or use %q in a matrix file",
			c.Name, s.Text, len(picked), strings.Join(picked, ", "), strings.TrimPrefix(modsemver.MajorMinor(picked[0]), "v"), s.Text)
	}
	how = fmt.Sprintf("%s = %s: the newest release", s.Text, picked[0])
	if s.Line != "" {
		how += " of the " + strings.TrimPrefix(s.Line, "v") + " line"
	}
	how += fmt.Sprintf(" among the %d versions the Go module proxy listed for %s on %s (pre-releases left out)",
		len(listed), c.Module, today.UTC().Format(time.DateOnly))
	return picked[0], how, nil
}

// day is midnight UTC of a date in a declared table.
func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
