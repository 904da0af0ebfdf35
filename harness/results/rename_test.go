package results

import (
	"context"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// renamedBug is a scenario registered under a new name with its old one
// as an alias, as the kit registers a bug it renamed (kit.Bug.Aliases).
type renamedBug struct{}

func (renamedBug) Name() string                   { return "tracker-1234" }
func (renamedBug) Bug() report.Bug                { return report.Bug{ID: "tracker#1234", Component: "runc"} }
func (renamedBug) Components() []versions.Builder { return []versions.Builder{versions.RuncRecipe} }
func (renamedBug) Params() []scenario.Param       { return nil }
func (renamedBug) Sampling() report.Sampling      { return report.Sampling{Deterministic: true} }
func (renamedBug) Run(context.Context, *scenario.Env) (report.Result, string, error) {
	return report.Inconclusive, "a fake", nil
}

func init() {
	scenario.Register(renamedBug{})
	scenario.Alias("old-bug-name", "tracker-1234")
}

// A bug renamed keeps its history: the old name's nights continue the new
// name's rows (a release named by its pin alias, rc93, continues the row
// of the version, 1.0.0-rc93), so a newly resolved maintained release that
// reproduces is a RELAPSE against the last night that ran under the old
// name, and a canary's row keeps its nights too.
func TestRenamedBugKeepsItsHistory(t *testing.T) {
	store := t.TempDir()
	old := func(m map[string]string) map[string]string { m["scenario"] = "old-bug-name"; return m }
	now := func(m map[string]string) map[string]string { m["scenario"] = "tracker-1234"; return m }
	night(t, store, "run-1", 1000, func(d string) {
		cell(t, d, "old-bug-name.runc-rc93", 1000, true, old(runcMeta("v1.0.0-rc93", "REPRODUCED")))
		cell(t, d, "old-bug-name.runc-maintained-1.5", 1000, true, old(selectorMeta("maintained", "1.5.3", "NOT REPRODUCED")))
		cell(t, d, "relapse-check.old-bug-name.patch-revert-2871-v1.1.14.runc-1.1.14", 1000, true, old(runcMeta("v1.1.14", "REPRODUCED")))
	})
	night(t, store, "run-2", 2000, func(d string) {
		cell(t, d, "tracker-1234.runc-1.0.0-rc93", 2000, true, now(runcMeta("v1.0.0-rc93", "REPRODUCED")))
		cell(t, d, "tracker-1234.runc-maintained-1.5", 2000, true, now(selectorMeta("maintained", "1.5.4", "REPRODUCED")))
		cell(t, d, "relapse-check.tracker-1234.patch-revert-2871-v1.1.14.runc-1.1.14", 2000, true, now(runcMeta("v1.1.14", "REPRODUCED")))
	})
	c := loadCompare(t, store)
	if len(c.Rows) != 3 {
		var keys []string
		for _, r := range c.Rows {
			keys = append(keys, r.Cell)
		}
		t.Fatalf("%d rows %v, want 3: each old cell continues as its new one", len(c.Rows), keys)
	}
	for _, id := range []string{"tracker-1234.runc-1.0.0-rc93", "relapse-check.tracker-1234.patch-revert-2871-v1.1.14.runc-1.1.14"} {
		if r := rowOf(t, c, id); len(r.Entries) != 2 {
			t.Errorf("row %s has %d nights, want both", id, len(r.Entries))
		}
	}
	r := rowOf(t, c, "tracker-1234.runc-maintained-1.5")
	if len(r.Entries) != 2 || !strings.Contains(strings.Join(r.Flags, ","), FlagRelapse) || !strings.Contains(strings.Join(r.Why, ";"), "1.5.3, what it resolved to before (night run-1)") {
		t.Errorf("maintained row: %d nights, flags %v; want both nights, RELAPSE against run-1's 1.5.3 (why: %v)", len(r.Entries), r.Flags, r.Why)
	}
	if e := r.Entries["run-1"]; e.Cell != "old-bug-name.runc-maintained-1.5" {
		t.Errorf("the old night's entry is %q, want its own cell ID kept (its directory)", e.Cell)
	}
}

// A segment is replaced whole: a name that only begins like another, or
// a version inside a longer one, is left alone.
func TestRenameSegment(t *testing.T) {
	for _, tc := range []struct{ id, old, now, want string }{
		{"old.runc-rc93", "old", "new", "new.runc-rc93"},
		{"group.old.runc-rc93", "old", "new", "group.new.runc-rc93"},
		{"older.runc-rc93", "old", "new", "older.runc-rc93"},
		{"old-k8s.runc-rc93", "old", "new", "old-k8s.runc-rc93"},
		{"b.runc-rc93", "runc-rc93", "runc-1.0.0-rc93", "b.runc-1.0.0-rc93"},
		{"b.runc-rc930", "runc-rc93", "runc-1.0.0-rc93", "b.runc-rc930"},
		{"b.runc-rc93.patch-x", "runc-rc93", "runc-1.0.0-rc93", "b.runc-1.0.0-rc93.patch-x"},
	} {
		if got := renameSegment(tc.id, tc.old, tc.now); got != tc.want {
			t.Errorf("renameSegment(%q, %q, %q) = %q, want %q", tc.id, tc.old, tc.now, got, tc.want)
		}
	}
}
