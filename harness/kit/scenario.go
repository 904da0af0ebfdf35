package kit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// bugScenario is a declaration as harness/scenario runs it.
type bugScenario struct {
	b    *Bug
	name string
}

func (s *bugScenario) Name() string              { return s.name }
func (s *bugScenario) Bug() report.Bug           { return s.b.Report() }
func (s *bugScenario) Sampling() report.Sampling { return s.b.Sampling }

// Params are the bug's own and the kit's: how long one container may take.
func (s *bugScenario) Params() []scenario.Param {
	return append([]scenario.Param{
		scenario.DurationParam("create-timeout", "20s", false, "how long one container start may take before the attempt ends unclassified"),
	}, s.b.Params...)
}

// CheckNode refuses a provider the bug does not run on.
func (s *bugScenario) CheckNode(provider string) error {
	return checkNode(s.b, provider)
}

// checkNode refuses a provider b does not run on.
func checkNode(b *Bug, provider string) error {
	nodes := b.nodes()
	if provider == "" || slices.Contains(nodes, provider) {
		return nil
	}
	return fmt.Errorf("%s runs on node %s, not %q", b.Name(), strings.Join(nodes, " or "), provider)
}

// Run sets up the runc under test, runs the control, then the trigger,
// and classifies. A control that did not run leaves nothing to compare
// against: INCONCLUSIVE without asking Classify.
func (s *bugScenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	o := s.b.Runc
	o.DebugLog = true
	rk, err := runckit.New(ctx, env, o)
	if err != nil {
		return report.Inconclusive, "", err
	}
	r := &Run{Env: env, Runc: rk, Fixtures: s.b.Fixtures, timeout: env.Params.Duration("create-timeout"), bug: s.b}
	if e := engineOf(s.b); e != nil {
		if r.engine, err = e.Start(ctx, r); err != nil {
			return report.Inconclusive, "", fmt.Errorf("starting %s: %w", e.Component, err)
		}
	}
	return r.sides(ctx, s.b)
}

// sides runs the control, then the trigger, keeps the reproducer and
// concludes: the same for every kind of bug once its Run is set up.
func (r *Run) sides(ctx context.Context, b *Bug) (report.Result, string, error) {
	control, err := b.Control(ctx, r)
	if err != nil {
		return report.Inconclusive, "", fmt.Errorf("control: %w", err)
	}
	r.trigger, r.control = true, control
	trigger, err := b.Trigger(ctx, r)
	if err != nil {
		return report.Inconclusive, "", fmt.Errorf("trigger: %w", err)
	}
	if r.steps != nil {
		r.Env.Report.Reproduce = r.script(b)
	}
	v := conclude(r.Env, b, control, trigger)
	return v.Result, v.Reason, nil
}

// conclude decides (Decide) and records what every kit bug's report
// shows whatever runs it: what the trigger was told, the sides' facts of
// many lines as evidence, and the finding of a REPRODUCED verdict.
func conclude(env *scenario.Env, b *Bug, control, trigger Observation) Verdict {
	v := Decide(b, control, trigger)
	if trigger.Said != "" {
		env.Evidence("what "+b.Component+" said to the trigger", trigger.Said)
	}
	// A fact of many lines (one per container tried) is evidence to
	// read, not a line of the verdict.
	for _, side := range []struct {
		name string
		o    Observation
	}{{"control", control}, {"trigger", trigger}} {
		for _, k := range slices.Sorted(maps.Keys(side.o.Facts)) {
			if v := side.o.Facts[k]; strings.Contains(v, "\n") {
				env.Evidence(side.name+": "+k, v)
			}
		}
	}
	if v.Result == report.Reproduced && b.Hooks.FindingBy == "" {
		now := time.Now().UTC()
		env.Finding(report.Finding{Detector: b.Name(), Kind: v.Kind, Summary: v.Reason, Reasons: v.Reasons,
			At: now, OnsetAt: now, Samples: 1})
	}
	return v
}

// Decide is the kit's rule around a bug's Classify: the control must have
// run, and a REPRODUCED verdict must name its finding.
func Decide(b *Bug, control, trigger Observation) Verdict {
	if !control.Ran {
		unit, broken := "container", "this runc or bundle does not work here"
		if b.Component == "kubernetes" {
			unit, broken = "pod", "this cluster does not run the pod"
		}
		return Verdict{Result: report.Inconclusive, Reason: "the control (the same " + unit + " without the trigger) did not run: " +
			orText(control.Failure, "no reason recorded") + "; " + broken + ", so the trigger's outcome would prove nothing"}
	}
	v := b.Classify(control, trigger)
	if v.Result == report.Reproduced && v.Kind == "" {
		return Verdict{Result: report.Inconclusive, Reason: "the classification said REPRODUCED without naming its finding: " + v.Reason}
	}
	return v
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
