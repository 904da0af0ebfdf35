package chaos

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
)

// testRun is a run on an in-memory node with a journal of its own.
func testRun(t *testing.T, n node.Node) *run.Run {
	t.Helper()
	j, err := run.OpenJournal(t.TempDir(), "run1")
	if err != nil {
		t.Fatal(err)
	}
	return &run.Run{ID: "run1", Node: n, Journal: j, Ledger: &run.Ledger{}, Report: &report.Report{}}
}

func TestSysctlRepairerSkipsRemoteNode(t *testing.T) {
	r := testRun(t, &memNode{files: map[string]string{}})
	if _, err := r.Journal.Record("sysctl", "qemu-6.1", map[string]string{"key": "fs.pipe-user-pages-soft", "old": "16384"}); err != nil {
		t.Fatal(err)
	}
	done, err := r.Journal.Repair(context.Background(), nil)
	if err != nil || len(done) != 1 || done[0].Note != "skipped: node qemu-6.1 is disposable" {
		t.Errorf("sysctl repair = %+v, %v", done, err)
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
	r := testRun(t, n)
	j, l := r.Journal, r.Ledger
	if err := (Sysctl{Key: "fs.pipe-user-pages-soft", Value: "1"}).Apply(context.Background(), r); err != nil {
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
	r := testRun(t, n)
	j, l := r.Journal, r.Ledger
	if err := (Sysctl{Key: "fs.pipe-user-pages-soft", Value: "1"}).Apply(context.Background(), r); err != nil {
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
	r := testRun(t, n)
	j, l := r.Journal, r.Ledger
	err := (Sysctl{Key: "fs.nope", Value: "1"}).Apply(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "reading sysctl fs.nope on mem") {
		t.Errorf("Apply err = %v", err)
	}
	if entries, _ := j.Entries(); len(entries) != 0 || len(l.Records()) != 0 {
		t.Errorf("a failed read left journal %+v / ledger %+v", entries, l.Records())
	}
}

// pipe-pages sets the limit when armed and puts it back when disarmed;
// the ledger then finds the change undone and does not write again.
func TestPipePagesArmDisarm(t *testing.T) {
	const path = "/proc/sys/fs/pipe-user-pages-soft"
	n := &memNode{files: map[string]string{path: "16384\n"}}
	r := testRun(t, n)
	a, err := PipePages{Pages: 1}.Arm(context.Background(), r, Target{Node: n})
	if err != nil {
		t.Fatal(err)
	}
	if n.files[path] != "1\n" {
		t.Errorf("armed: %q, want 1", n.files[path])
	}
	if err := a.Disarm(context.Background()); err != nil || n.files[path] != "16384\n" {
		t.Errorf("disarmed: %q, %v; want 16384 back", n.files[path], err)
	}
	n.files[path] = "7\n" // someone else's later change
	if err := r.Ledger.UndoAll(context.Background()); err != nil || n.files[path] != "7\n" {
		t.Errorf("the ledger after disarm wrote %q (%v); want it left alone", n.files[path], err)
	}
	if rec := r.Ledger.Records(); len(rec) != 1 || !rec[0].Restored || rec[0].After != "16384" {
		t.Errorf("ledger records = %+v; want one, restored to 16384", rec)
	}
	if got := a.Saw(); got != "fs.pipe-user-pages-soft set to 1" {
		t.Errorf("Saw = %q", got)
	}
}
