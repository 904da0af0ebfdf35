package results

import (
	"fmt"
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

// Row is one cell across nights.
type Row struct {
	Cell string
	// Bug, Component and Label describe the row (from its newest entry).
	Bug, Component, Label string
	// Version is the judged component's version (rows sort by it).
	Version string
	Canary  bool
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
	cells := map[string]bool{}
	for _, es := range byNight {
		for c := range es {
			cells[c] = true
		}
	}
	latest := cmp.Latest()
	for c := range cells {
		r := Row{Cell: c, Entries: map[string]Entry{}}
		// The row is described by its newest entry that knows its bug: a
		// night the cell errored before a report (or never finished) says
		// nothing about what it runs.
		var newest Entry
		for _, n := range nights {
			if e, ok := byNight[n][c]; ok {
				r.Entries[n] = e
				if e.Meta["bug"] != "" || newest.Meta["bug"] == "" {
					newest = e
				}
			}
		}
		r.Bug, r.Component, r.Canary = newest.Meta["bug"], newest.Meta["component"], newest.Meta["canary"] == "true"
		r.Version = newest.Meta["version"]
		r.Label = rowLabel(newest)
		flag(&r, nights, latest)
		cmp.Rows = append(cmp.Rows, r)
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

// rowLabel names a row by what it runs: the judged component's version,
// its build note, and the provider and kernel when not local.
func rowLabel(e Entry) string {
	parts := []string{strings.TrimSpace(e.Meta["component"] + " " + strings.TrimPrefix(e.Meta["version"], "v"))}
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
