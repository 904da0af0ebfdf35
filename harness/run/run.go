package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/progress"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/report"
)

// DefaultCleanupTimeout bounds one cleanup step that asks for no deadline
// of its own: a daemon that does not stop must not keep the host changed.
const DefaultCleanupTimeout = time.Minute

// Run is one experiment's context: where it runs, what it owns, what it
// records. Its methods are safe for concurrent use.
type Run struct {
	// ID names the run (time, scenario, judged component, random suffix).
	ID string
	// Node is where the run's containers and daemons run; it starts as the
	// machine relapse runs on and becomes the provisioned node.
	Node node.Node
	// Dir is the run's working directory on Node (in DirRoot; see NewDir).
	Dir string
	// ReportDir is where artifacts for the report go (on this machine).
	ReportDir string
	// CacheDir holds builds and images (on this machine).
	CacheDir string
	Journal  *Journal
	Ledger   *Ledger
	Report   *report.Report
	// Log receives progress lines for the person running relapse.
	Log io.Writer

	// parent is the run a repetition belongs to; records go to one report
	// under the parent's lock.
	parent *Run
	// repetition numbers a repetition (0 for the run itself).
	repetition int

	mu       sync.Mutex
	cleanups []cleanup
}

// lock is the lock of the report this run records into.
func (r *Run) lock() *sync.Mutex {
	for r.parent != nil {
		r = r.parent
	}
	return &r.mu
}

// Repetition makes the context of the n-th repetition of the run's
// scenario: the same node, journal, report and directories' root, but
// its own working directory (Dir/rN, which the caller makes), its own
// ledger and its own cleanups, run when the repetition ends, so that the
// next starts from nothing (fresh daemons, clusters, containers).
func (r *Run) Repetition(n int) *Run {
	return &Run{ID: r.ID, Node: r.Node, Dir: filepath.Join(r.Dir, fmt.Sprintf("r%d", n)), ReportDir: r.ReportDir,
		CacheDir: r.CacheDir, Journal: r.Journal, Ledger: &Ledger{}, Report: r.Report, Log: r.Log, parent: r, repetition: n}
}

// RepetitionNumber is the repetition this context belongs to (0 outside one).
func (r *Run) RepetitionNumber() int { return r.repetition }

type cleanup struct {
	name    string
	timeout time.Duration
	fn      func(context.Context) error
}

// Short is the run ID's random suffix: six characters that name the run's
// directories, namespaces, cgroups and containers without passing length
// limits (socket paths, interface names).
func (r *Run) Short() string { return ShortID(r.ID) }

// ShortID is the last six characters of a run ID.
func ShortID(id string) string {
	if len(id) <= 6 {
		return id
	}
	return id[len(id)-6:]
}

// DeferCleanup registers a teardown step; steps run last-in first-out on
// every exit path, after the scenario returns, each bounded by
// DefaultCleanupTimeout.
func (r *Run) DeferCleanup(name string, fn func(context.Context) error) {
	r.DeferCleanupWithin(name, DefaultCleanupTimeout, fn)
}

// DeferCleanupWithin is DeferCleanup with the step's own deadline (a
// Vagrant box takes minutes to destroy).
func (r *Run) DeferCleanupWithin(name string, timeout time.Duration, fn func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, cleanup{name, timeout, fn})
}

// RunCleanups runs the registered teardown steps, newest first, recording
// each. A step that fails or passes its deadline does not stop the others.
func (r *Run) RunCleanups(ctx context.Context) error {
	r.mu.Lock()
	steps := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	var errs []string
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		sctx, cancel := context.WithTimeout(ctx, s.timeout)
		start := time.Now()
		err := s.fn(sctx)
		if err == nil && sctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("did not finish within %s", s.timeout)
		}
		cancel()
		r.Step(report.Step{At: start.UTC(), Name: "cleanup", Detail: s.name,
			Seconds: time.Since(start).Seconds(), Status: report.StepStatus(err)})
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", s.name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Own owns a host resource end to end: it journals the change (kind and
// data, for the repairer of a killed run), makes it with apply, and registers its
// undo as a cleanup named name, which forgets the journal entry once the
// undo succeeded. If apply fails, whatever it did is undone at once. The
// returned release undoes the change early (a trigger disarmed before the
// run ends); the cleanup then does nothing.
func (r *Run) Own(ctx context.Context, name, kind string, data map[string]string, apply, undo func(context.Context) error) (release func(context.Context) error, err error) {
	return r.own(ctx, r.Node.Name(), name, kind, data, apply, undo)
}

// OwnLocal is Own for a resource on the machine relapse runs on, whatever
// the run's node is (a VM's process and directory, the local copy of a
// VM cluster's files): its journal entry is repaired on this host.
func (r *Run) OwnLocal(ctx context.Context, name, kind string, data map[string]string, apply, undo func(context.Context) error) (release func(context.Context) error, err error) {
	return r.own(ctx, "local", name, kind, data, apply, undo)
}

func (r *Run) own(ctx context.Context, nodeName, name, kind string, data map[string]string, apply, undo func(context.Context) error) (release func(context.Context) error, err error) {
	put, err := r.Journal.Own(kind, nodeName, data, undo)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	var undoErr error
	made := -1 // index of the report's record of it, once made
	release = func(ctx context.Context) error {
		once.Do(func() {
			undoErr = put(ctx)
			if made >= 0 {
				r.markRemoved(made, undoErr)
			}
		})
		return undoErr
	}
	if apply != nil {
		if err := apply(ctx); err != nil {
			if uerr := release(context.WithoutCancel(ctx)); uerr != nil {
				return nil, fmt.Errorf("%s: %w (and undoing it failed: %v)", name, err, uerr)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	made = r.recordMade(kind, madeTarget(name, data))
	r.DeferCleanup(name, release)
	return release, nil
}

// madeTarget names what Own made: the values of its journal data (a
// namespace's name, a directory), else the undo's name.
func madeTarget(name string, data map[string]string) string {
	var keys []string
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var vals []string
	for _, k := range keys {
		if v := data[k]; v != "" && len(v) < 200 {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return name
	}
	return strings.Join(vals, " ")
}

// recordMade lists something the run made on its node (a namespace, a
// cgroup, a daemon, a directory) among the report's changes, so a report
// never says the node was left untouched when it was not.
func (r *Run) recordMade(kind, name string) int {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.Changes = append(r.Report.Changes, report.Change{Kind: kind, Target: name, Before: "absent",
		Applied: "made for the run", After: "still there", AppliedAt: time.Now().UTC()})
	return len(r.Report.Changes) - 1
}

func (r *Run) markRemoved(i int, err error) {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	c := &r.Report.Changes[i]
	c.RestoredAt = time.Now().UTC()
	if err != nil {
		c.RestoreNote = "removing it failed: " + err.Error()
		return
	}
	c.After, c.Restored = "removed", true
}

// Step appends to the timeline.
func (r *Run) Step(s report.Step) {
	if s.At.IsZero() {
		s.At = time.Now().UTC()
	}
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.Timeline = append(r.Report.Timeline, s)
}

// Logf prints a progress line.
func (r *Run) Logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, "relapse: "+format+"\n", args...)
	}
}

// Event appends a plain event to the timeline.
func (r *Run) Event(name, detail string) { r.Step(report.Step{Name: name, Detail: detail}) }

// Timed runs fn and records it as a step with its duration and status.
// While it runs, the person running relapse sees it live (a bar with an
// estimate from earlier runs on a terminal, plain lines in a CI log).
func (r *Run) Timed(name, detail string, fn func() error) error {
	start := time.Now()
	key := strings.TrimSpace(name + " " + detail)
	est := progress.EstimatesIn(r.CacheDir)
	shown := progress.Begin(r.Log, key, est.Expect(key))
	err := fn()
	shown.End(err)
	if err == nil {
		// An estimate that cannot be saved only costs the next run its ETA.
		_ = est.Record(key, time.Since(start))
	}
	st := report.Step{At: start.UTC(), Name: name, Detail: detail, Seconds: time.Since(start).Seconds(), Status: report.StepStatus(err)}
	if err != nil {
		st.Detail = strings.TrimSpace(detail + ": " + err.Error())
	}
	r.Step(st)
	return err
}

// Condition records a measured fact the verdict depends on.
func (r *Run) Condition(name, value string) {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.Conditions = append(r.Report.Conditions, report.Fact{Name: name, Value: value})
}

// NodeFact records how the node (or cluster) was made.
func (r *Run) NodeFact(facts ...report.Fact) {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.NodeSetup = append(r.Report.NodeSetup, facts...)
}

// Observe records the version of a component the node brings rather than
// relapse builds (systemd); the verdict judges that version.
func (r *Run) Observe(component, version string) {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	if r.Report.Observed == nil {
		r.Report.Observed = map[string]string{}
	}
	r.Report.Observed[component] = version
}

// Stack records an engine or daemon the experiment ran, with the version
// it reported (dockerd, the containerd it manages, etcd).
func (r *Run) Stack(name, version string) {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	for i, f := range r.Report.Stack {
		if f.Name == name {
			r.Report.Stack[i].Value = version
			return
		}
	}
	r.Report.Stack = append(r.Report.Stack, report.Fact{Name: name, Value: version})
}

// Evidence attaches a block of raw evidence.
func (r *Run) Evidence(title, text string) {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.Evidence = append(r.Report.Evidence, report.Block{Title: title, Text: text})
}

// Finding records what a detector saw.
func (r *Run) Finding(f report.Finding) {
	f.Repetition = r.repetition
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.Findings = append(r.Report.Findings, f)
}

// Attempt records one try at triggering the bug.
func (r *Run) Attempt(a report.Attempt) {
	a.Repetition = r.repetition
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.Attempts = append(r.Report.Attempts, a)
}

// File lists an artifact saved in the report directory.
func (r *Run) File(f report.File) {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.Files = append(r.Report.Files, f)
}

// SaveFile writes data into the report directory as rel and lists it
// among the report's files: for evidence too long for the page (a full
// goroutine dump), which shows a summary instead.
func (r *Run) SaveFile(rel, description string, data []byte) error {
	path := filepath.Join(r.ReportDir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("saving %s with the report: %w", rel, err)
	}
	r.File(report.File{Name: filepath.Base(rel), Path: rel, Description: description})
	return nil
}

// Error records a problem that did not stop the run.
func (r *Run) Error(msg string) {
	mu := r.lock()
	mu.Lock()
	defer mu.Unlock()
	r.Report.Errors = append(r.Report.Errors, msg)
}
