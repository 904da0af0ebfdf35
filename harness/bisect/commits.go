package bisect

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StepsEnv names the file `relapse bisect-step` appends its step to, as
// one JSON line, for the bisection that called it through `git bisect run`.
const StepsEnv = "RELAPSE_BISECT_STEPS"

// Exit statuses of a step under `git bisect run`.
const (
	ExitOld  = 0
	ExitNew  = 1
	ExitSkip = 125
)

// Commits bisects the commits of a git checkout. The checkout itself is
// not touched: a private clone is bisected. Self is the relapse binary
// `git bisect run` calls at each commit (os.Executable when empty).
func Commits(ctx context.Context, o Options, self string) (*Result, error) {
	s, comp, err := lookup(o)
	if err != nil {
		return nil, err
	}
	if _, err := comp.ReadSource(ctx, o.Source); err != nil {
		return nil, err
	}
	// git bisect run calls relapse from inside the clone: paths must not
	// be relative to the caller's directory.
	if o.ReportsDir, err = filepath.Abs(o.ReportsDir); err != nil {
		return nil, err
	}
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	res := &Result{Scenario: s.Name(), Bug: s.Bug(), Component: comp.Name, Source: o.Source, Started: time.Now().UTC()}
	defer func() { res.Seconds = time.Since(res.Started).Seconds() }()
	work, err := os.MkdirTemp("", "relapse-bisect-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	repo := filepath.Join(work, "repo")
	if out, err := exec.CommandContext(ctx, "git", "clone", "-q", "--shared", o.Source, repo).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cloning %s for the bisection: %w\n%s", o.Source, err, out)
	}
	git := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	labelled := map[string]Label{}
	depth := map[string]int{}
	for _, lv := range []struct {
		revs  []string
		label Label
	}{{o.Good, Good}, {o.Bad, Bad}} {
		for _, rev := range lv.revs {
			commit, err := git("rev-parse", "--verify", rev+"^{commit}")
			if err != nil {
				return nil, fmt.Errorf("%s is not a commit of %s: %w", rev, o.Source, err)
			}
			labelled[commit] = lv.label
			n, err := git("rev-list", "--count", commit)
			if err != nil {
				return nil, err
			}
			depth[commit], _ = strconv.Atoi(n)
		}
	}
	if len(labelled) < 2 {
		return nil, fmt.Errorf("bisect needs at least one good and one bad commit (--good X --bad Y)")
	}
	commits := make([]string, 0, len(labelled))
	for c := range labelled {
		commits = append(commits, c)
	}
	sort.Slice(commits, func(i, j int) bool { return depth[commits[i]] < depth[commits[j]] })
	for i := 0; i+1 < len(commits); i++ {
		if _, err := git("merge-base", "--is-ancestor", commits[i], commits[i+1]); err != nil {
			return nil, fmt.Errorf("%s is not an ancestor of %s: the labelled commits must lie on one line of history", commits[i][:12], commits[i+1][:12])
		}
	}
	res.Candidates = commits
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "bisect: "+format+"\n", args...)
		}
	}
	// The labels are checked first, as over releases.
	for _, c := range commits {
		if _, err := git("checkout", "-q", "--detach", c); err != nil {
			return res, err
		}
		step := runStep(ctx, o, c[:12], repo)
		step.Endpoint = true
		res.Steps = append(res.Steps, step)
		logf("%s: %s (labelled %s): %s", c[:12], step.Label, labelled[c], step.Why)
		if step.Label != labelled[c] {
			return res, fmt.Errorf("commit %s was given as %s but the experiment says %s (%s): fix the labels or look at %s", c[:12], labelled[c], step.Label, step.Why, step.Report)
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	stepsFile := filepath.Join(work, "steps.jsonl")
	for i := 0; i+1 < len(commits); i++ {
		older, newer := commits[i], commits[i+1]
		if labelled[older] == labelled[newer] {
			continue
		}
		b, err := bisectRun(ctx, git, o, self, repo, stepsFile, older, newer, labelled[older])
		if err != nil {
			return res, err
		}
		res.Boundaries = append(res.Boundaries, b)
		logf("%s between %s and %s", b.Kind, b.Before, b.After)
	}
	steps, err := readSteps(stepsFile)
	res.Steps = append(res.Steps, steps...)
	return res, err
}

// bisectRun runs `git bisect run` between two commits with different
// labels, with the older label as git's "old" term.
func bisectRun(ctx context.Context, git func(...string) (string, error), o Options, self, repo, stepsFile, older, newer string, oldLabel Label) (Boundary, error) {
	kind := "introduced"
	if oldLabel == Bad {
		kind = "fixed"
	}
	// Neighbouring commits need no search (and git bisect run would test
	// whatever is checked out).
	if n, err := git("rev-list", "--count", older+".."+newer); err == nil && n == "1" {
		return Boundary{Kind: kind, Before: describe(git, older), After: describe(git, newer)}, nil
	}
	// Neutral terms: git refuses "good" for what its default means by "bad".
	if _, err := git("bisect", "start", "--term-old=old", "--term-new=new", newer, older); err != nil {
		return Boundary{}, err
	}
	defer func() { _, _ = git("bisect", "reset", "-q") }()
	args := []string{"-C", repo, "bisect", "run", self, "bisect-step", "--scenario", o.Scenario, "--component", o.Component,
		"--source", repo, "--old", string(oldLabel), "--reports", o.ReportsDir}
	if o.Repeat > 0 {
		args = append(args, "--repeat", strconv.Itoa(o.Repeat))
	}
	if o.LockWait > 0 {
		args = append(args, "--lock-wait", o.LockWait.String())
	}
	for k, v := range o.Versions {
		args = append(args, "--version", k+"="+v)
	}
	for k, v := range o.Params {
		args = append(args, "--param", k+"="+v)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), StepsEnv+"="+stepsFile)
	if o.CacheDir != "" {
		cmd.Env = append(cmd.Env, "RELAPSE_CACHE="+o.CacheDir)
	}
	out, err := cmd.CombinedOutput()
	if o.Log != nil {
		_, _ = o.Log.Write(out)
	}
	if err != nil {
		return Boundary{}, fmt.Errorf("git bisect run: %w\n%s", err, out)
	}
	first, err := git("rev-parse", "refs/bisect/new")
	if err != nil {
		return Boundary{}, err
	}
	before, _ := git("rev-parse", first+"^")
	b := Boundary{Kind: kind, Before: describe(git, before), After: describe(git, first)}
	skipped, _ := git("for-each-ref", "--format=%(objectname)", "refs/bisect/skip-*")
	for _, c := range strings.Fields(skipped) {
		b.Skipped = append(b.Skipped, describe(git, c))
	}
	return b, nil
}

// describe names a commit: its short hash and what git describe says.
func describe(git func(...string) (string, error), commit string) string {
	d, err := git("describe", "--tags", "--always", commit)
	if err != nil || d == "" {
		return commit[:min(12, len(commit))]
	}
	return commit[:min(12, len(commit))] + " (" + d + ")"
}

func readSteps(path string) ([]Step, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var steps []Step
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s Step
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return steps, fmt.Errorf("reading the steps git bisect ran: %w", err)
		}
		steps = append(steps, s)
	}
	return steps, sc.Err()
}

// RunStep is `relapse bisect-step`: one experiment at the checkout's HEAD,
// recorded for the bisection and answered with git bisect run's exit
// status (old is the label git's "old" term stands for).
func RunStep(ctx context.Context, o Options, old Label) int {
	step := runStep(ctx, o, "HEAD", o.Source)
	if path := os.Getenv(StepsEnv); path != "" {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			line, _ := json.Marshal(step)
			_, _ = f.Write(append(line, '\n'))
			f.Close()
		}
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "bisect-step: %s %s: %s (%s)\n", step.Commit, step.Version, step.Label, step.Why)
	}
	switch step.Label {
	case old:
		return ExitOld
	case Skip:
		return ExitSkip
	}
	return ExitNew
}
