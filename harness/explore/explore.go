package explore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Options is what `relapse chaos` was asked.
type Options struct {
	Containerd, Runc, Kubernetes string
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
	case o.Runc == "":
		return errors.New("--runc is required (e.g. --runc 1.1.1, or v1.0.0-rc93)")
	case o.Kubernetes != "":
		return fmt.Errorf("--kubernetes %s: the explorer does not drive a cluster yet (its node-Ready invariant is not built); leave it out", o.Kubernetes)
	case o.Budget <= 0:
		return fmt.Errorf("--budget %s: want how long to explore, more than 0 (e.g. 15m)", o.Budget)
	case o.Replays < 1 || o.Need < 1 || o.Need > o.Replays:
		return fmt.Errorf("--need %d of --replays %d: want 1 <= need <= replays", o.Need, o.Replays)
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

// explorer is the run's environment: the builds the stack needs, no bug
// of its own (it runs under experiment.Plan.Hold).
type explorer struct{}

func (explorer) Name() string { return "chaos" }
func (explorer) Bug() report.Bug {
	return report.Bug{Title: "none: relapse chaos, seeded schedules against a pinned stack under generic invariants"}
}
func (explorer) Components() []versions.Builder {
	return []versions.Builder{versions.ContainerdRecipe, versions.RuncRecipe}
}
func (explorer) Params() []scenario.Param  { return nil }
func (explorer) Sampling() report.Sampling { return report.Sampling{Deterministic: true} }
func (explorer) Run(context.Context, *scenario.Env) (report.Result, string, error) {
	return "", "", errors.New("the chaos explorer runs under Plan.Hold")
}

// Run explores until the budget ends or a violation is confirmed.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	plan, err := experiment.Prepare(ctx, experiment.Options{Using: explorer{},
		Versions:   map[string]string{"containerd": o.Containerd, "runc": o.Runc},
		ReportsDir: o.ReportsDir, LockWait: o.LockWait, Log: o.Log, Invocation: o.Invocation})
	if err != nil {
		return nil, err
	}
	out := &Outcome{Seed: o.Seed, Budget: o.Budget, Bound: DefaultBound.String()}
	kinds := chaos.FaultKinds()
	for _, k := range kinds {
		out.Faults = append(out.Faults, k.Kind)
	}
	res, err := plan.Hold(ctx, func(ctx context.Context, env *scenario.Env) error {
		return explore(ctx, env, o, kinds, out)
	})
	if res != nil {
		out.Report = res.Paths.HTML
	}
	return out, err
}

func explore(ctx context.Context, env *scenario.Env, o Options, kinds []chaos.FaultKind, out *Outcome) error {
	initBin, err := fixture.BuildInit(ctx, env.CacheDir)
	if err != nil {
		return err
	}
	rootfs := filepath.Join(env.Dir, "rootfs")
	if err := fixture.Rootfs(ctx, env.Node, rootfs, initBin); err != nil {
		return err
	}
	sb, err := sandbox.New(ctx, env.Run, "")
	if err != nil {
		return err
	}
	st := newStack(env, sb, rootfs, env.Artifacts["containerd"].Path, env.Artifacts["runc"].Path, DefaultBound)
	env.Condition("invariants", fmt.Sprintf("%s; %s; %s; %s; %s; bound: %s", InvCreate, InvExec, InvDelete, InvDaemon, InvLeftovers, DefaultBound))
	env.Condition("fault kinds drawn from", fmt.Sprint(out.Faults))
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
		sched := Generate(TrialSeed(o.Seed, trial), kinds, DefaultLimits)
		env.Logf("chaos trial %d (schedule seed %d): %v", trial, sched.Seed, sched.Lines())
		v, err := st.run(budget, sched)
		out.Trials++
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		found := time.Since(began)
		env.Logf("chaos trial %d: %q broke at step %d after %s: %s", trial, v.Invariant, v.Step+1, found.Round(time.Second), v.Detail)
		claims := Classify(v.Observed, Catalog())
		shrunk, err := Shrink(ctx, sched, v.Step, ShrinkOptions{Replays: o.Replays, Need: o.Need, MaxRuns: o.ShrinkRuns},
			func(ctx context.Context, s Schedule) (bool, error) {
				rv, err := st.run(ctx, s)
				same := rv != nil && rv.Invariant == v.Invariant
				env.Logf("chaos shrink of trial %d: %d steps (%d faults) broke it again: %v", trial, len(s.Steps), s.Faults(), same)
				return same, err
			})
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
			Replay: fmt.Sprintf("relapse chaos --containerd %s --runc %s --seed %d --trial %d", o.Containerd, o.Runc, o.Seed, trial)}
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
