package explore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Options is what `relapse chaos` was asked.
type Options struct {
	// Runc empty: the runc Containerd pins (versions.PinnedRunc), chosen
	// by Run, which says how in RuncFrom and the report.
	Containerd, Runc, Kubernetes string
	RuncFrom                     string
	// Budget bounds the exploration (not the shrink that follows a
	// violation, which ShrinkRuns bounds).
	Budget time.Duration
	Seed   uint64
	// Trial, when >= 0, runs only that trial's schedule (a replay).
	Trial int
	// Replays and Need: a shrink candidate still violates in Need of
	// Replays runs; ShrinkRuns bounds the replays a shrink spends.
	Replays, Need, ShrinkRuns int
	// Draft, when set, receives a draft kit declaration of a new finding.
	Draft      string
	ReportsDir string
	LockWait   time.Duration
	Invocation string
	Log        io.Writer
}

// Check refuses bad input before anything runs, saying what would do.
func (o Options) Check() error {
	switch {
	case o.Containerd == "":
		return errors.New("--containerd is required: the explorer drives runc through containerd (e.g. --containerd 1.6.2); runc alone is not explored yet")
	case o.Budget <= 0:
		return fmt.Errorf("--budget %s: want how long to explore, more than 0 (e.g. 15m)", o.Budget)
	case o.Replays < 1 || o.Need < 1 || o.Need > o.Replays:
		return fmt.Errorf("--need %d of --replays %d: want 1 <= need <= replays", o.Need, o.Replays)
	case o.Seed > 1<<31-1:
		return fmt.Errorf("--seed %d: want 0 to %d", o.Seed, 1<<31-1)
	case o.Trial < -1:
		return fmt.Errorf("--trial %d: want a trial number from a report (0 or more)", o.Trial)
	case o.ShrinkRuns < 0:
		return fmt.Errorf("--shrink-runs %d: want 0 (no bound) or more", o.ShrinkRuns)
	}
	return nil
}

// Finding is a confirmed violation: shrunk, replayed, classified.
type Finding struct {
	Trial     int       `json:"trial"`
	Violation Violation `json:"violation"`
	// TimeToFind is from the first trial's start to the violation.
	TimeToFind time.Duration `json:"time_to_find_ns"`
	Schedule   Schedule      `json:"schedule"`
	Shrunk     Shrunk        `json:"shrunk"`
	// Claims are the catalog bugs that recognised the evidence; none
	// means it is new.
	Claims []Claim `json:"claims"`
	Replay string  `json:"replay"`
}

// Named is the claiming bugs, or "new".
func (f Finding) Named() string {
	if len(f.Claims) == 0 {
		return "new (no catalog bug claims it)"
	}
	s := ""
	for i, c := range f.Claims {
		if i > 0 {
			s += ", "
		}
		s += c.Bug
	}
	return s
}

// Outcome is what an exploration did.
type Outcome struct {
	Seed    uint64        `json:"seed"`
	Budget  time.Duration `json:"budget_ns"`
	Trials  int           `json:"trials"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Bound   string        `json:"bound"`
	Faults  []string      `json:"fault_kinds"`
	// Unconfirmed are violations no replay of their schedule broke again.
	Unconfirmed []Violation `json:"unconfirmed,omitempty"`
	Finding     *Finding    `json:"finding,omitempty"`
	Report      string      `json:"report"`
}

// Name is the explorer's scenario name: `relapse chaos` runs it, and so
// may a matrix cell (scenario: chaos) or `relapse repro --scenario chaos`.
const Name = "chaos"

// Scenario is the explorer as a scenario: one repetition is one budgeted
// exploration. REPRODUCED means an invariant broke and replays confirmed
// it (the reason names the catalog bug that claims it, or "new"); NOT
// REPRODUCED means nothing broke within the budget. It names no bug of
// its own, so no affected range sets an expectation: on today's releases
// a nightly row going to REPRODUCED is a RELAPSE for the night to flag.
type Scenario struct{}

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string { return Name }
func (Scenario) Bug() report.Bug {
	return report.Bug{ID: "chaos", Title: "relapse chaos: seeded schedules of workloads and faults against a pinned stack under generic invariants",
		Summary: "Told nothing about a bug, the explorer composes create/start churn, exec storms, deletes, /v1/metrics scrapes and the " +
			"registered chaos faults into seeded schedules, checks that every operation returns within a bound derived from the run's own " +
			"latencies, that the daemon answers and that nothing is left after teardown, and shrinks and classifies a violation."}
}
func (Scenario) Components() []versions.Builder {
	return []versions.Builder{versions.ContainerdRecipe, versions.RuncRecipe, versions.KubernetesRecipe}
}

// OptionalComponents: Kubernetes is built (and a cluster made) only with
// --kubernetes.
func (Scenario) OptionalComponents() []string { return []string{versions.Kubernetes.Name} }

// Supports: what relapse can build (the daemon path runs containerd 1.5+).
func (Scenario) Supports() []scenario.Support {
	return []scenario.Support{scenario.ContainerdBuildable, scenario.RuncBuildable, clusterSupport}
}

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		scenario.DurationParam("budget", "15m", false, "how long to explore before the shrink"),
		scenario.IntParam("seed", 1, 0, 1<<31-1, "seed of the schedules (a report's seed replays them)"),
		scenario.IntParam("trial", -1, -1, 1<<31-1, "replay only this trial of the seed (-1: explore)"),
		scenario.IntParam("replays", 2, 1, 20, "replays (n) of each shrink candidate"),
		scenario.IntParam("need", 1, 1, 20, "violating replays (k of n) a shrink candidate needs to still count"),
		scenario.IntParam("shrink-runs", 12, 0, 200, "bound on the replays a shrink spends (0: none)"),
		scenario.StringParam("draft", "", "directory for a draft kit declaration of a new (unclaimed) finding", func(string) error { return nil }),
		scenario.StringParam("runc-from", "", "how the runc was chosen when none was asked for (relapse chaos sets it)", checkRuncFrom),
		clusterParam,
	}
}

// Sampling: one exploration is one repetition; its own replays (k of n)
// say how repeatable a finding is.
func (Scenario) Sampling() report.Sampling {
	return report.Sampling{Deterministic: true,
		Why:   "one budgeted exploration decides; a finding is confirmed by its own k-of-n replays",
		Fresh: "a fresh containerd with its own root for every trial and replay; with --kubernetes one cluster for the run, its pods cleared before every trial"}
}

// Run is one exploration.
func (Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	p := env.Params
	o := Options{Budget: p.Duration("budget"), Seed: uint64(p.Int("seed")), Trial: p.Int("trial"), Replays: p.Int("replays"),
		Need: p.Int("need"), ShrinkRuns: p.Int("shrink-runs"), Draft: p.String("draft"),
		Containerd: env.Artifacts["containerd"].Version, Runc: env.Artifacts["runc"].Version, Kubernetes: env.Artifacts[versions.Kubernetes.Name].Version}
	if o.Need > o.Replays {
		return report.Inconclusive, "", fmt.Errorf("need %d of replays %d: want need <= replays", o.Need, o.Replays)
	}
	if from := p.String("runc-from"); from != "" {
		env.Condition("runc", from)
	}
	kinds := chaos.FaultKinds()
	out := &Outcome{Seed: o.Seed, Budget: o.Budget, Bound: DefaultBound.String()}
	for _, k := range kinds {
		out.Faults = append(out.Faults, k.Kind)
	}
	if err := explore(ctx, env, o, kinds, out); err != nil {
		return report.Inconclusive, "", err
	}
	switch {
	case out.Finding != nil:
		return report.Reproduced, Summary(out), nil
	case ctx.Err() != nil:
		return report.Inconclusive, "interrupted: " + Summary(out), nil
	case out.Trials == 0:
		return report.Inconclusive, "no trial completed within the budget", nil
	}
	return report.NotReproduced, Summary(out), nil
}

// Run explores through the experiment (builds, host lock, journal, the
// report) and returns what chaos.json recorded.
func Run(ctx context.Context, o Options) (*Outcome, *experiment.Result, error) {
	if err := o.Check(); err != nil {
		return nil, nil, err
	}
	if o.Runc == "" {
		runc, how, err := versions.PinnedRunc(ctx, o.Containerd)
		if err != nil {
			return nil, nil, err
		}
		o.Runc, o.RuncFrom = runc, how
	}
	plan, err := experiment.Prepare(ctx, experiment.Options{Scenario: Name,
		Versions:   o.versions(),
		Params:     o.params(),
		ReportsDir: o.ReportsDir, LockWait: o.LockWait, Log: o.Log, Invocation: o.Invocation})
	if err != nil {
		return nil, nil, err
	}
	res, err := plan.Execute(ctx)
	if res == nil {
		return nil, nil, err
	}
	out := &Outcome{Report: res.Paths.HTML}
	if data, rerr := os.ReadFile(filepath.Join(res.Paths.Dir, "chaos.json")); rerr == nil {
		if jerr := json.Unmarshal(data, out); jerr != nil {
			return out, res, fmt.Errorf("reading back chaos.json: %w", jerr)
		}
		out.Report = res.Paths.HTML
	}
	return out, res, err
}

// versions are the components o asks for: a cluster's Kubernetes only
// with --kubernetes.
func (o Options) versions() map[string]string {
	v := map[string]string{"containerd": o.Containerd, "runc": o.Runc}
	if o.Kubernetes != "" {
		v[versions.Kubernetes.Name] = o.Kubernetes
	}
	return v
}

// replay is the command line that replays one trial of the run.
func (o Options) replay(trial int) string {
	k8s := ""
	if o.Kubernetes != "" {
		k8s = " --kubernetes " + o.Kubernetes
	}
	return fmt.Sprintf("relapse chaos --containerd %s --runc %s%s --seed %d --trial %d", o.Containerd, o.Runc, k8s, o.Seed, trial)
}

// params are the scenario parameters o stands for.
func (o Options) params() map[string]string {
	return map[string]string{"budget": o.Budget.String(), "seed": strconv.FormatUint(o.Seed, 10), "trial": strconv.Itoa(o.Trial),
		"replays": strconv.Itoa(o.Replays), "need": strconv.Itoa(o.Need), "shrink-runs": strconv.Itoa(o.ShrinkRuns), "draft": o.Draft,
		"runc-from": o.RuncFrom}
}

func explore(ctx context.Context, env *scenario.Env, o Options, kinds []chaos.FaultKind, out *Outcome) error {
	st, err := explorerFor(ctx, env, o)
	if err != nil {
		return err
	}
	env.Condition("invariants", fmt.Sprintf("%s; bound: %s", strings.Join(st.invariants(), "; "), DefaultBound))
	env.Condition("fault kinds drawn from", fmt.Sprint(out.Faults))
	env.Condition("runtime wrapper", "containerd runs fixtures/runtimewrapper as its runc in every trial: it execs the runc under test, "+
		"delaying, failing or stracing the calls a runtime-wrapper or strace (on=runc) fault chooses, and counts creates for kill at=creates")
	began := time.Now()
	budget, cancel := context.WithTimeout(ctx, o.Budget)
	defer cancel()
	for i := 0; budget.Err() == nil; i++ {
		trial := i
		if o.Trial >= 0 {
			if i > 0 {
				break
			}
			trial = o.Trial
		}
		sched := Generate(TrialSeed(o.Seed, trial), kinds, st.limits())
		env.Logf("chaos trial %d (schedule seed %d): %v", trial, sched.Seed, sched.Lines())
		env.Event(fmt.Sprintf("chaos trial %d", trial), strings.Join(sched.Lines(), "; "))
		v, err := st.run(budget, sched)
		out.Trials++
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		found := time.Since(began)
		env.Event(fmt.Sprintf("chaos trial %d: invariant broke", trial), fmt.Sprintf("%s at step %d after %s: %s", v.Invariant, v.Step+1, found.Round(time.Second), v.Detail))
		env.Logf("chaos trial %d: %q broke at step %d after %s: %s", trial, v.Invariant, v.Step+1, found.Round(time.Second), v.Detail)
		claims := Classify(v.Observed, Catalog())
		shrunk, err := Shrink(ctx, sched, v.Step, ShrinkOptions{Replays: o.Replays, Need: o.Need, MaxRuns: o.ShrinkRuns},
			func(ctx context.Context, s Schedule) (bool, error) {
				rv, err := st.run(ctx, s)
				same := rv != nil && rv.Invariant == v.Invariant
				env.Logf("chaos shrink of trial %d: %v broke it again: %v", trial, s.Lines(), same)
				return same, err
			})
		if err != nil && ctx.Err() != nil {
			// Interrupted while replaying: the violation stays on record,
			// unconfirmed, with the seed and trial that replay it.
			out.Unconfirmed = append(out.Unconfirmed, *v)
			break
		}
		if err != nil {
			return fmt.Errorf("shrinking trial %d: %w", trial, err)
		}
		if shrunk.Tally.K == 0 {
			env.Logf("chaos trial %d: no replay broke %q again (%s): unconfirmed, exploring on", trial, v.Invariant, shrunk.Tally)
			out.Unconfirmed = append(out.Unconfirmed, *v)
			continue
		}
		out.Elapsed = time.Since(began)
		f := &Finding{Trial: trial, Violation: *v, TimeToFind: found, Schedule: sched, Shrunk: shrunk, Claims: claims,
			Replay: o.replay(trial)}
		out.Finding = f
		record(env, out)
		if o.Draft != "" && len(claims) == 0 {
			path, err := WriteDraft(o.Draft, f, o)
			if err != nil {
				return err
			}
			env.Condition("draft kit declaration", path)
		}
		return nil
	}
	out.Elapsed = time.Since(began)
	record(env, out)
	return nil
}

// explorerFor is what the run's trials run against: a one-node cluster
// with --kubernetes, containerd alone (a fresh one per trial) otherwise.
func explorerFor(ctx context.Context, env *scenario.Env, o Options) (explorer, error) {
	if o.Kubernetes != "" {
		return newClusterStack(ctx, env, DefaultBound)
	}
	initBin, err := fixture.BuildInit(ctx, env.CacheDir)
	if err != nil {
		return nil, err
	}
	rootfs := filepath.Join(env.Dir, "rootfs")
	if err := fixture.Rootfs(ctx, env.Node, rootfs, initBin); err != nil {
		return nil, err
	}
	sb, err := sandbox.New(ctx, env.Run, "")
	if err != nil {
		return nil, err
	}
	return newStack(env, sb, rootfs, env.Artifacts["containerd"].Path, env.Artifacts["runc"].Path, DefaultBound), nil
}

// checkRuncFrom keeps the runc-from parameter to one short line a log
// shows as written (textutil.Printable has nothing to escape in it): it
// goes into the report as it is.
func checkRuncFrom(s string) error {
	if len(s) > 200 || textutil.Printable(s) != s {
		return fmt.Errorf("runc-from %q: want one printable line of at most 200 bytes", s[:min(len(s), 200)])
	}
	return nil
}
