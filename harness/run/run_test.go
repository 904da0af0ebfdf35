package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/report"
)

func openTestJournal(t *testing.T, runID string) *Journal {
	t.Helper()
	j, err := OpenJournal(t.TempDir(), runID)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func journalFiles(t *testing.T, j *Journal) []string {
	t.Helper()
	files, err := os.ReadDir(j.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	return names
}

func TestOpenJournalCreatesJournalDir(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	j, err := OpenJournal(state, "run1")
	if err != nil {
		t.Fatal(err)
	}
	if j.Dir() != filepath.Join(state, "journal") {
		t.Errorf("Dir = %q", j.Dir())
	}
	st, err := os.Stat(j.Dir())
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Errorf("journal dir stat = %v, %v; want a 0700 directory", st, err)
	}
}

func TestJournalRecordWritesFileAndForgetRemovesIt(t *testing.T) {
	j := openTestJournal(t, "run1")
	before := time.Now().UTC().Add(-time.Second)
	forget, err := j.Record("sysctl", "local", map[string]string{"key": "fs.pipe-user-pages-soft", "old": "16384", "new": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := journalFiles(t, j); !reflect.DeepEqual(got, []string{"run1-000001-sysctl.json"}) {
		t.Fatalf("journal files = %q, want [run1-000001-sysctl.json] (no .tmp left)", got)
	}
	data, err := os.ReadFile(filepath.Join(j.Dir(), "run1-000001-sysctl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	if e.ID != "run1-000001-sysctl" || e.Kind != "sysctl" || e.Node != "local" || e.RunID != "run1" || e.PID != os.Getpid() {
		t.Errorf("entry = %+v", e)
	}
	if e.Created.Before(before) || e.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("Created = %v, want about now", e.Created)
	}
	if want := map[string]string{"key": "fs.pipe-user-pages-soft", "old": "16384", "new": "1"}; !reflect.DeepEqual(e.Data, want) {
		t.Errorf("Data = %v, want %v", e.Data, want)
	}

	if err := forget(); err != nil {
		t.Fatalf("forget: %v", err)
	}
	if got := journalFiles(t, j); len(got) != 0 {
		t.Errorf("journal after forget = %q, want empty", got)
	}
	if err := forget(); err != nil {
		t.Errorf("second forget = %v, want nil", err)
	}
}

func TestJournalEntriesOldestFirst(t *testing.T) {
	j := openTestJournal(t, "20240514T093000Z-rc93-a1b2")
	for _, kind := range []string{"sysctl", "runc-root", "cgroup"} {
		if _, err := j.Record(kind, "local", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Leftovers that are not entries are ignored.
	if err := os.WriteFile(filepath.Join(j.Dir(), "x.json.tmp"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	want := []string{
		"20240514T093000Z-rc93-a1b2-000001-sysctl",
		"20240514T093000Z-rc93-a1b2-000002-runc-root",
		"20240514T093000Z-rc93-a1b2-000003-cgroup",
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("Entries IDs = %q, want %q", ids, want)
	}
}

func TestJournalEntriesCorruptEntryIsError(t *testing.T) {
	j := openTestJournal(t, "run1")
	if err := os.WriteFile(filepath.Join(j.Dir(), "bad.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := j.Entries()
	if err == nil || !strings.Contains(err.Error(), "journal entry bad.json is corrupt") {
		t.Errorf("err = %v, want corrupt-entry error", err)
	}
}

var (
	repairMu    sync.Mutex
	repairOrder []string
)

func init() {
	RegisterRepairer("test-kind", func(_ context.Context, e Entry) (string, error) {
		repairMu.Lock()
		defer repairMu.Unlock()
		repairOrder = append(repairOrder, e.ID)
		if e.Data["fail"] == "yes" {
			return "", fmt.Errorf("cannot put %s back", e.Data["what"])
		}
		return "put " + e.Data["what"] + " back", nil
	})
}

func TestJournalRepairNewestFirstKeepsFailures(t *testing.T) {
	repairMu.Lock()
	repairOrder = nil
	repairMu.Unlock()
	j := openTestJournal(t, "dead")
	rec := func(kind string, data map[string]string) {
		if _, err := j.Record(kind, "local", data); err != nil {
			t.Fatal(err)
		}
	}
	rec("test-kind", map[string]string{"what": "a"})
	rec("test-kind", map[string]string{"what": "b", "fail": "yes"})
	rec("test-kind", map[string]string{"what": "c"})
	rec("test-kind-unregistered", nil)

	done, err := j.Repair(context.Background(), nil)
	if err == nil {
		t.Fatal("Repair err = nil, want the failed and unrepairable entries")
	}
	for _, want := range []string{
		"cannot put b back",
		`journal entry dead-000004-test-kind-unregistered: no repairer for kind "test-kind-unregistered"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Repair err lacks %q:\n%v", want, err)
		}
	}
	if want := []string{"dead-000003-test-kind", "dead-000002-test-kind", "dead-000001-test-kind"}; !reflect.DeepEqual(repairOrder, want) {
		t.Errorf("repairer calls = %q, want newest first %q", repairOrder, want)
	}
	type summary struct{ ID, Note, Error string }
	var got []summary
	for _, r := range done {
		got = append(got, summary{r.Entry.ID, r.Note, r.Error})
	}
	want := []summary{
		{"dead-000004-test-kind-unregistered", "", `journal entry dead-000004-test-kind-unregistered: no repairer for kind "test-kind-unregistered"`},
		{"dead-000003-test-kind", "put c back", ""},
		{"dead-000002-test-kind", "", "cannot put b back"},
		{"dead-000001-test-kind", "put a back", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Repaired =\n%+v\nwant\n%+v", got, want)
	}
	left, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range left {
		ids = append(ids, e.ID)
	}
	if want := []string{"dead-000002-test-kind", "dead-000004-test-kind-unregistered"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("entries left = %q, want %q", ids, want)
	}
}

func TestJournalRepairEmptyJournal(t *testing.T) {
	j := openTestJournal(t, "run1")
	done, err := j.Repair(context.Background(), nil)
	if err != nil || len(done) != 0 {
		t.Errorf("Repair = %+v, %v; want nothing", done, err)
	}
}

func TestLockHostExcludesSecondHolderUntilUnlock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	first, err := LockHost(dir)
	if err != nil {
		t.Fatalf("first LockHost: %v", err)
	}
	second, err := LockHost(dir)
	if err == nil {
		second.Unlock()
		t.Fatal("second LockHost succeeded while the first holds the lock")
	}
	for _, want := range []string{"another relapse run", fmt.Sprintf("pid %d (exclusive: a run that changes this host)", os.Getpid()), filepath.Join(dir, "host.lock")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second LockHost err lacks %q: %v", want, err)
		}
	}
	first.Unlock()
	third, err := LockHost(dir)
	if err != nil {
		t.Fatalf("LockHost after Unlock: %v", err)
	}
	third.Unlock()
}

func TestStateDir(t *testing.T) {
	t.Setenv("RELAPSE_STATE", "/tmp/relapse-state")
	if got := StateDir(); got != "/tmp/relapse-state" {
		t.Errorf("StateDir = %q", got)
	}
	t.Setenv("RELAPSE_STATE", "")
	if got := StateDir(); got != "/var/lib/relapse" {
		t.Errorf("StateDir default = %q", got)
	}
}

func TestLedgerUndoAllNewestFirstContinuesAfterError(t *testing.T) {
	var l Ledger
	var order []string
	undo := func(name, after string, err error) Undo {
		return func(context.Context) (string, error) { order = append(order, name); return after, err }
	}
	applied := time.Date(2024, 5, 14, 9, 30, 0, 0, time.UTC)
	l.Add(report.Change{Kind: "sysctl", Target: "a", Before: "1", Applied: "2", AppliedAt: applied}, undo("a", "1", nil))
	l.Add(report.Change{Kind: "sysctl", Target: "b", Before: "3", Applied: "4"}, undo("b", "4", errors.New("read-only")))
	l.Add(report.Change{Kind: "runc-root", Target: "c"}, undo("c", "gone", nil))

	recs := l.Records()
	if !recs[0].AppliedAt.Equal(applied) || recs[1].AppliedAt.IsZero() {
		t.Errorf("AppliedAt = %v, %v; want kept and filled in", recs[0].AppliedAt, recs[1].AppliedAt)
	}

	err := l.UndoAll(context.Background())
	if err == nil || err.Error() != "undoing sysctl b: read-only" {
		t.Errorf("UndoAll err = %v, want %q", err, "undoing sysctl b: read-only")
	}
	if want := []string{"c", "b", "a"}; !reflect.DeepEqual(order, want) {
		t.Errorf("undo order = %q, want %q", order, want)
	}
	recs = l.Records()
	type state struct {
		Target, After, Note string
		Restored            bool
	}
	var got []state
	for _, r := range recs {
		got = append(got, state{r.Target, r.After, r.RestoreNote, r.Restored})
		if r.RestoredAt.IsZero() {
			t.Errorf("%s: RestoredAt not set", r.Target)
		}
	}
	want := []state{{"a", "1", "", true}, {"b", "4", "read-only", false}, {"c", "gone", "", true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records = %+v, want %+v", got, want)
	}

	if err := l.UndoAll(context.Background()); err != nil {
		t.Errorf("second UndoAll = %v, want nil", err)
	}
	if len(order) != 3 {
		t.Errorf("second UndoAll undid again: %q", order)
	}
}

func TestRunDeferCleanupRunsLIFOAndRecordsSteps(t *testing.T) {
	env := &Run{Report: &report.Report{}}
	var order []string
	step := func(name string, err error) func(context.Context) error {
		return func(context.Context) error { order = append(order, name); return err }
	}
	env.DeferCleanup("first", step("first", nil))
	env.DeferCleanup("second", step("second", errors.New("boom")))
	env.DeferCleanup("third", step("third", nil))

	err := env.RunCleanups(context.Background())
	if err == nil || err.Error() != "cleanup: second: boom" {
		t.Errorf("RunCleanups err = %v, want %q", err, "cleanup: second: boom")
	}
	if want := []string{"third", "second", "first"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order = %q, want %q", order, want)
	}
	var details, statuses []string
	for _, s := range env.Report.Timeline {
		if s.Name != "cleanup" || s.At.IsZero() {
			t.Errorf("step %+v: want name cleanup and a time", s)
		}
		details = append(details, s.Detail)
		statuses = append(statuses, s.Status)
	}
	if want := []string{"third", "second", "first"}; !reflect.DeepEqual(details, want) {
		t.Errorf("step details = %q, want %q", details, want)
	}
	if want := []string{"ok", "failed", "ok"}; !reflect.DeepEqual(statuses, want) {
		t.Errorf("step statuses = %q, want %q", statuses, want)
	}

	// The steps ran once; a second call has nothing to do.
	if err := env.RunCleanups(context.Background()); err != nil {
		t.Errorf("second RunCleanups = %v, want nil", err)
	}
	if len(order) != 3 || len(env.Report.Timeline) != 3 {
		t.Errorf("second RunCleanups ran steps again: order %q, %d timeline steps", order, len(env.Report.Timeline))
	}
}

func TestRunRunCleanupsJoinsAllErrors(t *testing.T) {
	env := &Run{Report: &report.Report{}}
	env.DeferCleanup("a", func(context.Context) error { return errors.New("x") })
	env.DeferCleanup("b", func(context.Context) error { return errors.New("y") })
	err := env.RunCleanups(context.Background())
	if err == nil || err.Error() != "cleanup: b: y; a: x" {
		t.Errorf("err = %v, want %q", err, "cleanup: b: y; a: x")
	}
}

func TestRunRecorders(t *testing.T) {
	var log bytes.Buffer
	env := &Run{Report: &report.Report{}, Log: &log}
	if err := env.Timed("build", "runc v1.0.0-rc93", func() error { return nil }); err != nil {
		t.Errorf("Timed ok = %v", err)
	}
	boom := errors.New("boom")
	if err := env.Timed("copy", "runc", func() error { return boom }); err != boom {
		t.Errorf("Timed err = %v, want boom", err)
	}
	env.Event("trigger armed", "fs.pipe-user-pages-soft=1")
	env.Condition("compiled seccomp filter", "13080 bytes")
	env.Evidence("runc list", "ID PID STATUS")
	env.Logf("attempt %d", 2)

	tl := env.Report.Timeline
	if len(tl) != 3 {
		t.Fatalf("timeline = %+v, want 3 steps", tl)
	}
	if tl[0].Name != "build" || tl[0].Detail != "runc v1.0.0-rc93" || tl[0].Status != "ok" {
		t.Errorf("step 0 = %+v", tl[0])
	}
	if tl[1].Name != "copy" || tl[1].Detail != "runc: boom" || tl[1].Status != "failed" {
		t.Errorf("step 1 = %+v", tl[1])
	}
	if tl[2].Name != "trigger armed" || tl[2].Detail != "fs.pipe-user-pages-soft=1" || tl[2].Status != "" || tl[2].At.IsZero() {
		t.Errorf("step 2 = %+v", tl[2])
	}
	if want := []report.Fact{{Name: "compiled seccomp filter", Value: "13080 bytes"}}; !reflect.DeepEqual(env.Report.Conditions, want) {
		t.Errorf("Conditions = %+v", env.Report.Conditions)
	}
	if want := []report.Block{{Title: "runc list", Text: "ID PID STATUS"}}; !reflect.DeepEqual(env.Report.Evidence, want) {
		t.Errorf("Evidence = %+v", env.Report.Evidence)
	}
	// A failed timed step is announced in the log; a quick good one is not.
	if log.String() != "relapse: copy runc: failed after 0s\nrelapse: attempt 2\n" {
		t.Errorf("log = %q", log.String())
	}
	// Logf without a writer is a no-op, not a panic.
	(&Run{Report: &report.Report{}}).Logf("nothing")
}

// VM runs share the lock; a run that changes the host waits for all of
// them, and takes it as soon as the last lets go.
func TestAcquireHostSharedAndExclusive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()
	a, err := AcquireHost(ctx, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := AcquireHost(ctx, dir, false, 0)
	if err != nil {
		t.Fatalf("a second shared holder was refused: %v", err)
	}
	if ex, err := AcquireHost(ctx, dir, true, 0); err == nil {
		ex.Unlock()
		t.Fatal("an exclusive holder got the lock beside two shared ones")
	}
	a.Unlock()
	go func() { time.Sleep(300 * time.Millisecond); b.Unlock() }()
	ex, err := AcquireHost(ctx, dir, true, 10*time.Second)
	if err != nil {
		t.Fatalf("waiting for the shared holders: %v", err)
	}
	if _, err := AcquireHost(ctx, dir, false, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "waited 100ms") {
		t.Errorf("a shared holder beside an exclusive one: %v", err)
	}
	ex.Unlock()
}

// Repair leaves alone what a live run (one sharing the lock) still owns.
func TestJournalRepairSkipsLiveOwners(t *testing.T) {
	j := openTestJournal(t, "live")
	if _, err := j.Record("test-kind", "local", map[string]string{"what": "x"}); err != nil {
		t.Fatal(err)
	}
	entries, err := j.Entries()
	if err != nil || len(entries) != 1 {
		t.Fatal(entries, err)
	}
	e := entries[0]
	e.PID = 1 // PID 1 started long before the entry
	data, _ := json.Marshal(e)
	if err := os.WriteFile(filepath.Join(j.Dir(), e.ID+".json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	done, err := j.Repair(context.Background(), nil)
	if err != nil || len(done) != 0 {
		t.Fatalf("Repair = %+v, %v; want the live owner's entry kept", done, err)
	}
	if left, _ := j.Entries(); len(left) != 1 {
		t.Errorf("entries left = %d, want 1", len(left))
	}
}
