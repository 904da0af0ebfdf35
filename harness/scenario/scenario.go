package scenario

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Param is a scenario setting a user may change.
type Param struct {
	Name    string
	Default string
	Help    string
	// Valid checks a value and says what would be right.
	Valid func(string) error
}

// Scenario is one reproducible bug.
type Scenario interface {
	// Name is the CLI name ("runc-pipe-hang").
	Name() string
	Bug() report.Bug
	// Components lists the components whose versions the scenario takes,
	// the first being the one the affected range is about.
	Components() []versions.Builder
	Params() []Param
	// Run triggers the bug and decides. It returns INCONCLUSIVE with a reason
	// when it cannot decide; an error means the harness itself failed.
	Run(ctx context.Context, env *Env) (report.Result, string, error)
}

// WithDefaults is a scenario that picks versions for components the user
// need not name (e.g. the runc under a containerd bug).
type WithDefaults interface {
	DefaultVersions() map[string]string
}

// NodeRequirer is a scenario that runs only on some node providers (the
// systemd scenarios need systemd as PID 1, which only VM nodes have here).
type NodeRequirer interface {
	// CheckNode fails, saying which providers would do, for one that won't.
	CheckNode(provider string) error
}

// PlanChecker is a scenario whose parameters only make sense with some
// versions or nodes (dockershim exists only before Kubernetes 1.24; kind
// clusters run on the local node): CheckPlan sees the node provider and
// the resolved parameters and versions before anything runs.
type PlanChecker interface {
	CheckPlan(provider string, params, versions map[string]string) error
}

// NodeSizer is a scenario whose node needs more memory than a VM
// provider's default (a whole Kubernetes cluster runs on it).
type NodeSizer interface {
	NodeMemoryMiB() int
}

// NodeDisk is a read-only disk image a VM node gets attached and mounted
// (a cluster's binaries: hundreds of MB, which ssh into a nested VM
// carries at a few MB/s).
type NodeDisk struct {
	// Image is an ext4 file system image on the machine relapse runs on.
	Image string
	// MountPoint is where the node mounts it.
	MountPoint string
	// What says in the report what the disk holds.
	What string
}

// DiskProvider is a scenario that gives VM nodes disks of its own, made
// from its built components before the node boots.
type DiskProvider interface {
	NodeDisks(ctx context.Context, env *Env) ([]NodeDisk, error)
}

// Env is what a running scenario gets: the node, its own directory, the
// built components, its parameters, and the means to change the node
// safely and to record what happened.
type Env struct {
	Node node.Node
	// Dir is the run's working directory on the node (bundles, state).
	Dir string
	// ReportDir is where artifacts for the report go (local).
	ReportDir string
	RunID     string
	CacheDir  string
	Artifacts map[string]versions.Artifact
	Params    map[string]string
	Journal   *chaos.Journal
	Ledger    *chaos.Ledger
	Report    *report.Report
	// Log receives progress lines for the person running relapse.
	Log io.Writer

	mu       sync.Mutex
	cleanups []cleanup
}

type cleanup struct {
	name string
	fn   func(context.Context) error
}

// DeferCleanup registers a teardown step; steps run last-in first-out on
// every exit path, with their own deadline, after the scenario returns.
func (e *Env) DeferCleanup(name string, fn func(context.Context) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, cleanup{name, fn})
}

// RunCleanups runs the registered teardown steps, newest first, recording each.
func (e *Env) RunCleanups(ctx context.Context) error {
	e.mu.Lock()
	steps := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	var errs []string
	for i := len(steps) - 1; i >= 0; i-- {
		start := time.Now()
		err := steps[i].fn(ctx)
		e.Step(report.Step{At: start.UTC(), Name: "cleanup", Detail: steps[i].name,
			Seconds: time.Since(start).Seconds(), Status: status(err)})
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", steps[i].name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}

func status(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// Step appends to the timeline.
func (e *Env) Step(s report.Step) {
	if s.At.IsZero() {
		s.At = time.Now().UTC()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Report.Timeline = append(e.Report.Timeline, s)
}

// Logf prints a progress line.
func (e *Env) Logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, "relapse: "+format+"\n", args...)
	}
}

// Event appends a plain event to the timeline.
func (e *Env) Event(name, detail string) { e.Step(report.Step{Name: name, Detail: detail}) }

// Timed runs fn and records it as a step with its duration and status.
func (e *Env) Timed(name, detail string, fn func() error) error {
	start := time.Now()
	err := fn()
	st := report.Step{At: start.UTC(), Name: name, Detail: detail, Seconds: time.Since(start).Seconds(), Status: status(err)}
	if err != nil {
		st.Detail = strings.TrimSpace(detail + ": " + err.Error())
	}
	e.Step(st)
	return err
}

// Condition records a measured fact the verdict depends on.
func (e *Env) Condition(name, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Report.Conditions = append(e.Report.Conditions, report.Fact{Name: name, Value: value})
}

// Observe records the version of a component the node brings rather than
// relapse builds (systemd); the verdict's expectation uses it.
func (e *Env) Observe(component, version string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Report.Observed == nil {
		e.Report.Observed = map[string]string{}
	}
	e.Report.Observed[component] = version
}

// Evidence attaches a block of raw evidence.
func (e *Env) Evidence(title, text string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Report.Evidence = append(e.Report.Evidence, report.Block{Title: title, Text: text})
}

// Expect says what the bug's affected range predicts for a version.
func Expect(bug report.Bug, version string) (report.Result, string, error) {
	v, err := semver.NewVersion(strings.TrimPrefix(version, "v"))
	if err != nil {
		return report.Inconclusive, "", fmt.Errorf("version %q: %w", version, err)
	}
	c, err := semver.NewConstraint(bug.Affected)
	if err != nil {
		return report.Inconclusive, "", fmt.Errorf("bug %s affected range %q: %w", bug.ID, bug.Affected, err)
	}
	if c.Check(v) {
		return report.Reproduced, fmt.Sprintf("%s %s is within the affected range %s", bug.Component, v, bug.Affected), nil
	}
	return report.NotReproduced, fmt.Sprintf("%s %s is outside the affected range %s (fixed: %s)", bug.Component, v, bug.Affected, bug.Fixed), nil
}

var (
	registryMu sync.Mutex
	registry   = map[string]Scenario{}
)

// Register adds a scenario; scenario packages call it from init.
func Register(s Scenario) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[s.Name()]; dup {
		panic("scenario registered twice: " + s.Name())
	}
	registry[s.Name()] = s
}

// Names lists the registered scenarios.
func Names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup finds a scenario by name; the error lists the known ones.
func Lookup(name string) (Scenario, error) {
	registryMu.Lock()
	s, ok := registry[name]
	registryMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q: known scenarios are %s", name, strings.Join(Names(), ", "))
	}
	return s, nil
}

// ResolveParams merges user values over defaults and validates them; an
// unknown name fails with the list of known ones.
func ResolveParams(s Scenario, given map[string]string) (map[string]string, error) {
	known := map[string]Param{}
	out := map[string]string{}
	var names []string
	for _, p := range s.Params() {
		known[p.Name] = p
		out[p.Name] = p.Default
		names = append(names, p.Name)
	}
	for k, v := range given {
		p, ok := known[k]
		if !ok {
			return nil, fmt.Errorf("scenario %s has no parameter %q: its parameters are %s", s.Name(), k, strings.Join(names, ", "))
		}
		if p.Valid != nil {
			if err := p.Valid(v); err != nil {
				return nil, fmt.Errorf("parameter %s=%q: %w", k, v, err)
			}
		}
		out[k] = v
	}
	return out, nil
}
