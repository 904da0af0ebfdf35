package chaos

import (
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

	"github.com/relapse-dev/relapse/harness/node"
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

	done, err := j.Repair(context.Background())
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
	done, err := j.Repair(context.Background())
	if err != nil || len(done) != 0 {
		t.Errorf("Repair = %+v, %v; want nothing", done, err)
	}
}

func TestSysctlRepairerSkipsRemoteNode(t *testing.T) {
	note, err := repairers["sysctl"](context.Background(), Entry{Node: "qemu-6.1", Data: map[string]string{"key": "fs.pipe-user-pages-soft", "old": "16384"}})
	if err != nil || note != "skipped: node qemu-6.1 is disposable" {
		t.Errorf("sysctl repairer = %q, %v", note, err)
	}
}

func TestLockHostExcludesSecondHolderUntilUnlock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	first, err := LockHost(dir)
	if err != nil {
		t.Fatalf("first LockHost: %v", err)
	}
	owner, err := os.ReadFile(filepath.Join(dir, "host.lock"))
	if err != nil || string(owner) != fmt.Sprintf("%d\n", os.Getpid()) {
		t.Errorf("host.lock = %q, %v; want our pid", owner, err)
	}
	second, err := LockHost(dir)
	if err == nil {
		second.Unlock()
		t.Fatal("second LockHost succeeded while the first holds the lock")
	}
	for _, want := range []string{"another relapse run", fmt.Sprintf("(pid %d)", os.Getpid()), filepath.Join(dir, "host.lock")} {
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

func TestSysctlPath(t *testing.T) {
	tests := []struct{ key, want string }{
		{"fs.pipe-user-pages-soft", "/proc/sys/fs/pipe-user-pages-soft"},
		{"fs.pipe-max-size", "/proc/sys/fs/pipe-max-size"},
		{"net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"},
	}
	for _, tt := range tests {
		if got := SysctlPath(tt.key); got != tt.want {
			t.Errorf("SysctlPath(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// memNode keeps files in memory, so Sysctl.Apply can be exercised without
// touching the host's kernel parameters.
type memNode struct {
	node.Node
	files map[string]string
	// sticky makes writes to this path silently not take effect.
	sticky string
}

func (m *memNode) Name() string { return "mem" }

func (m *memNode) ReadFile(_ context.Context, path string) ([]byte, error) {
	v, ok := m.files[path]
	if !ok {
		return nil, os.ErrNotExist
	}
	return []byte(v), nil
}

func (m *memNode) WriteFile(_ context.Context, path string, data []byte, _ os.FileMode) error {
	if path == m.sticky {
		return nil
	}
	m.files[path] = string(data)
	return nil
}

func TestSysctlApplyRecordsSetsAndUndoes(t *testing.T) {
	const path = "/proc/sys/fs/pipe-user-pages-soft"
	n := &memNode{files: map[string]string{path: "16384\n"}}
	j := openTestJournal(t, "run1")
	var l Ledger
	if err := (Sysctl{Key: "fs.pipe-user-pages-soft", Value: "1"}).Apply(context.Background(), n, j, &l); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if n.files[path] != "1\n" {
		t.Errorf("value after Apply = %q, want 1", n.files[path])
	}
	entries, err := j.Entries()
	if err != nil || len(entries) != 1 {
		t.Fatalf("journal = %+v, %v; want one entry", entries, err)
	}
	if e := entries[0]; e.Kind != "sysctl" || e.Node != "mem" ||
		!reflect.DeepEqual(e.Data, map[string]string{"key": "fs.pipe-user-pages-soft", "old": "16384", "new": "1"}) {
		t.Errorf("journal entry = %+v", e)
	}
	recs := l.Records()
	if len(recs) != 1 || recs[0].Kind != "sysctl" || recs[0].Target != "fs.pipe-user-pages-soft" || recs[0].Before != "16384" || recs[0].Applied != "1" {
		t.Errorf("ledger = %+v", recs)
	}

	if err := l.UndoAll(context.Background()); err != nil {
		t.Fatalf("UndoAll: %v", err)
	}
	if n.files[path] != "16384\n" {
		t.Errorf("value after undo = %q, want 16384", n.files[path])
	}
	if r := l.Records()[0]; !r.Restored || r.After != "16384" {
		t.Errorf("record after undo = %+v", r)
	}
	if entries, _ := j.Entries(); len(entries) != 0 {
		t.Errorf("journal after undo = %+v, want empty", entries)
	}
}

func TestSysctlUndoThatDoesNotStickKeepsJournalEntry(t *testing.T) {
	const path = "/proc/sys/fs/pipe-user-pages-soft"
	n := &memNode{files: map[string]string{path: "16384\n"}}
	j := openTestJournal(t, "run1")
	var l Ledger
	if err := (Sysctl{Key: "fs.pipe-user-pages-soft", Value: "1"}).Apply(context.Background(), n, j, &l); err != nil {
		t.Fatal(err)
	}
	n.sticky = path // the restore write is lost
	err := l.UndoAll(context.Background())
	want := `undoing sysctl fs.pipe-user-pages-soft: sysctl fs.pipe-user-pages-soft reads "1" after restoring "16384"`
	if err == nil || err.Error() != want {
		t.Errorf("UndoAll err = %v, want %q", err, want)
	}
	if r := l.Records()[0]; r.Restored || r.After != "1" {
		t.Errorf("record = %+v, want not restored, after 1", r)
	}
	if entries, _ := j.Entries(); len(entries) != 1 {
		t.Errorf("journal = %+v, want the entry kept for repair", entries)
	}
}

func TestSysctlApplyFailsWhenKeyUnreadable(t *testing.T) {
	n := &memNode{files: map[string]string{}}
	j := openTestJournal(t, "run1")
	var l Ledger
	err := (Sysctl{Key: "fs.nope", Value: "1"}).Apply(context.Background(), n, j, &l)
	if err == nil || !strings.Contains(err.Error(), "reading sysctl fs.nope on mem") {
		t.Errorf("Apply err = %v", err)
	}
	if entries, _ := j.Entries(); len(entries) != 0 || len(l.Records()) != 0 {
		t.Errorf("a failed read left journal %+v / ledger %+v", entries, l.Records())
	}
}
