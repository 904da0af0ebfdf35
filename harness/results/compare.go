package results

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/relapse-dev/relapse/harness/report"
)

// Flags a row can carry.
const (
	FlagRelapse      = "RELAPSE"
	FlagNewlyFixed   = "NEWLY FIXED"
	FlagFlaky        = "FLAKY"
	FlagStale        = "STALE"
	FlagFailing      = "FAILING"
	FlagCanaryMissed = "CANARY MISSED"
)

// Row is one experiment across nights: a cell, or for a cell whose
// version a selector chose, the bug, the component and the selector
// ("runc latest", "containerd maintained 2.3"), whatever version each
// night resolved to.
type Row struct {
	// Cell is the row's key: the cell ID, or for a selector row the cell
	// ID as it names the selector (rowKey).
	Cell string
	// Bug, Component and Label describe the row (from its newest entry).
	Bug, Component, Label string
	// Version is the judged component's version (rows sort by it).
	Version string
	// Selector is what chose the version ("" when the cell names one).
	Selector string
	Canary   bool
	// Entries by night; a night the cell did not run has none.
	Entries map[string]Entry
	Flags   []string
	// FirstFail is the night the current run of failures began, LastPass
	// the last night the row passed ("" when there is none).
	FirstFail, LastPass string
	// Why says, per flag, what raised it.
	Why []string
}

// Comparison is every row against the nights, newest night last.
type Comparison struct {
	Nights []string
	Rows   []Row
}

// Latest is the newest night.
func (c *Comparison) Latest() string {
	if len(c.Nights) == 0 {
		return ""
	}
	return c.Nights[len(c.Nights)-1]
}

// Compare flags every row of the store.
func Compare(nights []string, byNight map[string]map[string]Entry) *Comparison {
	cmp := &Comparison{Nights: nights}
	rows := map[string]*Row{}
	for _, n := range nights {
		for _, e := range byNight[n] {
			key := rowKey(e)
			r, ok := rows[key]
			if !ok {
				r = &Row{Cell: key, Entries: map[string]Entry{}}
				rows[key] = r
			}
			r.Entries[n] = e
		}
	}
	latest := cmp.Latest()
	// The speeds the latest night ran: a canary of another speed was not
	// asked for (make nightly runs the fast cells, CI every cell).
	ranSpeeds := map[string]bool{}
	for _, e := range byNight[latest] {
		ranSpeeds[e.Meta["speed"]] = true
	}
	for _, r := range rows {
		// The row is described by its newest entry that knows its bug: a
		// night the cell errored before a report (or never finished) says
		// nothing about what it runs.
		var newest Entry
		for _, n := range nights {
			if e, ok := r.Entries[n]; ok && (e.Meta["bug"] != "" || newest.Meta["bug"] == "") {
				newest = e
			}
		}
		r.Bug, r.Component, r.Canary = newest.Meta["bug"], newest.Meta["component"], newest.Canary()
		r.Version, r.Selector = newest.Meta["version"], newest.Selector()
		r.Label = rowLabel(newest)
		flag(r, nights, latest)
		if _, ran := r.Entries[latest]; !ran && r.Canary && (newest.Meta["speed"] == "" || ranSpeeds[newest.Meta["speed"]]) {
			// A canary the night did not run proves nothing about it: the
			// night fails as when the canary ran and missed.
			r.Flags = append(r.Flags, FlagCanaryMissed)
			r.Why = append(r.Why, "a canary (a fix reverted on purpose) did not run in night "+latest+": the night cannot show it would catch a relapse")
		}
		cmp.Rows = append(cmp.Rows, *r)
	}
	sort.Slice(cmp.Rows, func(i, j int) bool {
		a, b := cmp.Rows[i], cmp.Rows[j]
		if a.Bug != b.Bug {
			return a.Bug < b.Bug
		}
		if c := compareVersions(a.Version, b.Version); c != 0 {
			return c < 0
		}
		return a.Label < b.Label
	})
	return cmp
}

// compareVersions orders semantic versions, those that are not after
// those that are, by text.
func compareVersions(a, b string) int {
	va, errA := semver.NewVersion(strings.TrimPrefix(a, "v"))
	vb, errB := semver.NewVersion(strings.TrimPrefix(b, "v"))
	switch {
	case errA == nil && errB == nil:
		return va.Compare(vb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// rowKey is the row an entry belongs to: its cell. A selector cell's
// row continues while what the selector resolves to changes, so its cell
// ID is expected to name the selector (runc-pipe-hang.runc-latest); a
// cell ID that names the resolved version instead (runc-1.5.3) has it
// replaced by the selector and the line (runc-maintained-1.5), so every
// night of the selector lands in one row. A renamed bug's cells and
// releases named by a pin alias continue under today's ID (rowCell).
func rowKey(e Entry) string {
	id := rowCell(e)
	sel, v := e.Selector(), e.Meta["version"]
	if sel == "" || v == "" {
		return id
	}
	for _, form := range []string{v, strings.TrimPrefix(v, "v")} {
		if form == "" || !strings.Contains(id, form) {
			continue
		}
		return strings.Replace(id, form, unsafeInName.ReplaceAllString(selectorLabel(e), "-"), 1)
	}
	return id
}

// unsafeInName is what a row key built from a selector label drops.
var unsafeInName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// selectorLabel is the selector as a row shows it: "latest",
// "latest-1.4", "maintained 1.5" (maintained names one line per cell: the
// resolved version's).
func selectorLabel(e Entry) string {
	sel := e.Selector()
	if sel != "maintained" {
		return sel
	}
	v, err := semver.NewVersion(strings.TrimPrefix(e.Meta["version"], "v"))
	if err != nil {
		return sel
	}
	return fmt.Sprintf("%s %d.%d", sel, v.Major(), v.Minor())
}

// rowLabel names a row by what it runs: the judged component's version
// (or the selector that chose it), its build note, and the provider and
// kernel when not local.
func rowLabel(e Entry) string {
	what := strings.TrimPrefix(e.Meta["version"], "v")
	if e.Selector() != "" {
		what = selectorLabel(e)
	}
	parts := []string{strings.TrimSpace(e.Meta["component"] + " " + what)}
	if b := e.Meta["build"]; b != "" {
		parts = append(parts, "("+b+")")
	}
	if v := e.Meta["variant"]; v != "" {
		parts = append(parts, v)
	}
	if p := e.Meta["provider"]; p != "" && p != "local" {
		parts = append(parts, "on "+p)
	}
	if k := e.Meta["kernel"]; k != "" {
		parts = append(parts, "kernel "+k)
	}
	if len(parts) == 1 && parts[0] == "" {
		return e.Cell
	}
	return strings.Join(parts, " ")
}

func flag(r *Row, nights []string, latest string) {
	last, ran := r.Entries[latest]
	if !ran {
		r.Flags = append(r.Flags, FlagStale)
		r.Why = append(r.Why, "not run in night "+latest)
	}
	var prev *Entry
	for i := len(nights) - 1; i >= 0; i-- {
		if nights[i] == latest {
			continue
		}
		if e, ok := r.Entries[nights[i]]; ok {
			prev = &e
			break
		}
	}
	if ran {
		switch {
		case last.Relapse():
			r.Flags = append(r.Flags, FlagRelapse)
			r.Why = append(r.Why, fmt.Sprintf("%s %s reproduced, a version at or after the fix (affected %s)", last.Meta["component"], last.Meta["version"], last.Meta["affected"]))
		case r.Canary:
			r.Flags = append(r.Flags, FlagCanaryMissed)
			r.Why = append(r.Why, "a canary (a fix reverted on purpose) did not come out as a relapse: the night cannot catch one")
		default:
			if was := newlyReproduced(r, nights, last); was != nil {
				r.Flags = append(r.Flags, FlagRelapse)
				r.Why = append(r.Why, fmt.Sprintf("%s %s resolved to %s, which reproduced; %s, what it resolved to before (night %s), did not",
					last.Meta["component"], selectorLabel(last), last.Resolved(), was.Resolved(), was.Night))
			}
		}
		if !last.Passed {
			r.Flags = append(r.Flags, FlagFailing)
			why := last.Meta["failure"]
			if why == "" {
				why = strings.ToLower(last.Result)
			}
			r.Why = append(r.Why, why)
		}
		if prev != nil && prev.Verdict() != last.Verdict() {
			switch {
			case prev.Build() == last.Build():
				r.Flags = append(r.Flags, FlagFlaky)
				r.Why = append(r.Why, fmt.Sprintf("%s on night %s, %s now, on the same build", prev.Verdict(), prev.Night, last.Verdict()))
			case prev.Verdict() == report.Reproduced && last.Verdict() == report.NotReproduced:
				r.Flags = append(r.Flags, FlagNewlyFixed)
				r.Why = append(r.Why, "reproduced on night "+prev.Night+", not on the new build")
			}
		}
	}
	// First fail: the oldest night of the current run of failures; last
	// pass: the newest passing night.
	failing := true
	for i := len(nights) - 1; i >= 0; i-- {
		e, ok := r.Entries[nights[i]]
		if !ok {
			continue
		}
		if e.Passed {
			if r.LastPass == "" {
				r.LastPass = nights[i]
			}
			failing = false
			continue
		}
		if failing {
			r.FirstFail = nights[i]
		}
	}
}

// newlyReproduced is, for a selector row whose latest entry reproduced,
// the entry of the version the selector resolved to before when that one
// did not reproduce: the new release brought the bug back. nil otherwise
// (no selector, no earlier version, or it reproduced too).
func newlyReproduced(r *Row, nights []string, last Entry) *Entry {
	if r.Selector == "" || last.Verdict() != report.Reproduced {
		return nil
	}
	for i := len(nights) - 1; i >= 0; i-- {
		e, ok := r.Entries[nights[i]]
		if !ok || nights[i] == last.Night {
			continue
		}
		same := e.Resolved() == last.Resolved()
		// Every night of the new version reproduced (one that did not
		// makes it flaky, not newly broken); the predecessor is the newest
		// earlier version with a verdict (a night that errored on it says
		// nothing).
		switch v := e.Verdict(); {
		case same && v == report.NotReproduced:
			return nil
		case same:
		case v == report.NotReproduced:
			return &e
		case v == report.Reproduced:
			return nil
		}
	}
	return nil
}

// Has says whether any row carries the flag (canary rows aside when
// skipCanary).
func (c *Comparison) Has(flag string, skipCanary bool) []Row {
	var out []Row
	for _, r := range c.Rows {
		if skipCanary && r.Canary {
			continue
		}
		for _, f := range r.Flags {
			if f == flag {
				out = append(out, r)
			}
		}
	}
	return out
}
