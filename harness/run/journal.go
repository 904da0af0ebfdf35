package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// StateDir is where relapse keeps host-wide state (journal, lock):
// $RELAPSE_STATE, else /var/lib/relapse.
func StateDir() string {
	if d := os.Getenv("RELAPSE_STATE"); d != "" {
		return d
	}
	return "/var/lib/relapse"
}

// Entry records one change that must be undone.
type Entry struct {
	// ID names the entry file; unique within a journal.
	ID string `json:"id"`
	// Kind selects the repairer ("sysctl", "runc-root", ...).
	Kind    string            `json:"kind"`
	Node    string            `json:"node"`
	RunID   string            `json:"run_id"`
	PID     int               `json:"pid"`
	Created time.Time         `json:"created"`
	Data    map[string]string `json:"data"`
}

// Journal is a directory of entries, one JSON file each, written with
// fsync before the change it describes is made.
type Journal struct {
	dir   string
	runID string
	mu    sync.Mutex
	seq   int
}

// OpenJournal opens (and creates) the journal under stateDir.
func OpenJournal(stateDir, runID string) (*Journal, error) {
	dir := filepath.Join(stateDir, "journal")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating journal %s: %w", dir, err)
	}
	return &Journal{dir: dir, runID: runID}, nil
}

// Dir is the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// Record durably writes an entry and returns the function that forgets it.
func (j *Journal) Record(kind, nodeName string, data map[string]string) (forget func() error, err error) {
	j.mu.Lock()
	j.seq++
	seq := j.seq
	j.mu.Unlock()
	e := Entry{ID: fmt.Sprintf("%s-%06d-%s", j.runID, seq, kind), Kind: kind, Node: nodeName,
		RunID: j.runID, PID: os.Getpid(), Created: time.Now().UTC(), Data: data}
	path := filepath.Join(j.dir, e.ID+".json")
	if err := writeSynced(path, e); err != nil {
		return nil, fmt.Errorf("recording %s change in journal: %w", kind, err)
	}
	return func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}, nil
}

func writeSynced(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Own records a change of a host resource before it is made and returns
// the function that puts it back: it runs undo and, once undo succeeded,
// forgets the entry. A failed undo keeps the entry, so the next run (or
// `relapse repair`) tries again. Every kind of resource relapse changes is
// owned this way.
func (j *Journal) Own(kind, nodeName string, data map[string]string, undo func(context.Context) error) (release func(context.Context) error, err error) {
	forget, err := j.Record(kind, nodeName, data)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := undo(ctx); err != nil {
			return err
		}
		return forget()
	}, nil
}

// Entries lists the journal's entries, oldest first.
func (j *Journal) Entries() ([]Entry, error) {
	files, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(j.dir, f.Name()))
		if err != nil {
			return nil, err
		}
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("journal entry %s is corrupt: %w", f.Name(), err)
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(a, b int) bool { return entries[a].ID < entries[b].ID })
	return entries, nil
}

// Repairer undoes a journal entry left by a run that died.
type Repairer func(ctx context.Context, e Entry) (string, error)

var (
	repairersMu sync.Mutex
	repairers   = map[string]Repairer{}
)

// RegisterRepairer makes entries of a kind repairable. The package that
// owns a kind of host resource (engine daemons, network namespaces, the
// sysctl injector) registers its repairer in init, as database/sql drivers
// do; a kind registered twice is a programming error. Node providers do
// not: their repairers are part of their interface (see provision).
func RegisterRepairer(kind string, r Repairer) {
	repairersMu.Lock()
	defer repairersMu.Unlock()
	if _, dup := repairers[kind]; dup {
		panic("journal kind registered twice: " + kind)
	}
	repairers[kind] = r
}

// RegisterLocalRepairer registers a repairer for changes on the local
// host; entries of other nodes are skipped, since VM and kind nodes are
// disposable and go away with everything on them.
func RegisterLocalRepairer(kind string, r Repairer) { RegisterRepairer(kind, LocalOnly(r)) }

// LocalOnly wraps a repairer so that it skips entries of disposable nodes.
func LocalOnly(r Repairer) Repairer {
	return func(ctx context.Context, e Entry) (string, error) {
		if e.Node != "local" {
			return "skipped: node " + e.Node + " is disposable", nil
		}
		return r(ctx, e)
	}
}

// Repaired is what a repair did.
type Repaired struct {
	Entry Entry  `json:"entry"`
	Note  string `json:"note"`
	Error string `json:"error,omitempty"`
}

// Repair undoes every entry left in the journal, newest first, with the
// registered repairers and the extra ones given (a node provider's).
// Callers hold the HostLock, so no live run owns any entry.
func (j *Journal) Repair(ctx context.Context, extra map[string]Repairer) ([]Repaired, error) {
	entries, err := j.Entries()
	if err != nil {
		return nil, err
	}
	var done []Repaired
	var errs []error
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if ownerAlive(e) {
			// A run sharing the host lock (a VM run) still owns it.
			continue
		}
		r := Repaired{Entry: e}
		repairersMu.Lock()
		repair, ok := repairers[e.Kind]
		repairersMu.Unlock()
		if extraRepair, has := extra[e.Kind]; has {
			repair, ok = extraRepair, true
		}
		if !ok {
			err = fmt.Errorf("journal entry %s: no repairer for kind %q", e.ID, e.Kind)
		} else {
			r.Note, err = repair(ctx, e)
		}
		if err != nil {
			r.Error = err.Error()
			errs = append(errs, err)
		} else {
			_ = os.Remove(filepath.Join(j.dir, e.ID+".json"))
		}
		done = append(done, r)
	}
	return done, errors.Join(errs...)
}

// ownerAlive says whether the process that wrote an entry still runs: a
// live pid that started before the entry was written (a reused pid started
// later).
func ownerAlive(e Entry) bool {
	if e.PID <= 0 || e.PID == os.Getpid() {
		return false
	}
	st, err := os.Stat(fmt.Sprintf("/proc/%d", e.PID))
	if err != nil {
		return false
	}
	return !st.ModTime().After(e.Created.Add(time.Second))
}
