package experiment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/privdir"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/provision/qemu"
	"github.com/relapse-dev/relapse/harness/provision/vagrant"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// Options is what the user asked for.
type Options struct {
	Scenario string
	// Using, when set, is the scenario instead of the one Scenario names:
	// an environment of a tool's own (the matrix's Indexed Job cluster),
	// not in the registry, that Plan.Hold runs a body in.
	Using scenario.Scenario
	// Versions maps a component name ("runc") to the requested version.
	Versions map[string]string
	// Patches maps a component name to patch files applied, in order, to
	// its source before the build (--patch runc=FILE).
	Patches map[string][]string
	// Sources maps a component name to a local tree built instead of a
	// release (--source runc=DIR).
	Sources map[string]string
	Params  map[string]string
	// Node says which node to run on (provider, kernel, box).
	Node provision.Spec
	// ReportsDir receives reports/<run-id>/.
	ReportsDir string
	// CacheDir holds builds; default versions.CacheDir().
	CacheDir string
	// StateDir holds the journal and host lock; default run.StateDir().
	StateDir string
	// LockWait is how long to wait for the host lock held by another run
	// (0: fail at once, naming it).
	LockWait time.Duration
	// Repeat is how many independent repetitions of the scenario to run,
	// all of them (a rate is wanted); 0 runs until the verdict is decided,
	// at most as many as the scenario's Sampling needs.
	Repeat int
	// Invocation is the command line, for the report.
	Invocation string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Providers are the node providers relapse offers.
var Providers = provision.NewSet(provision.Local{}, qemu.Provider{}, vagrant.Provider{})

// Plan is a validated request with exact versions: nothing on the host has
// changed yet.
type Plan struct {
	Options
	Scenario scenario.Scenario
	Resolved map[string]versions.Resolved
	Params   scenario.Values
	Provider provision.Provider
	// hold replaces the scenario's repetitions (Hold).
	hold func(context.Context, *scenario.Env) error
}

// Hold runs body where the scenario's repetitions would run: after the
// builds, with the host lock, the journal, the node and the run directory,
// and everything put back afterwards, whatever body does. The report
// records the run with no verdict (cause "held"): no trigger ran. Tools
// that need what a run makes (a cluster at pinned versions) but reproduce
// no bug themselves use it.
func (p *Plan) Hold(ctx context.Context, body func(context.Context, *scenario.Env) error) (*Result, error) {
	p.hold = body
	return p.Execute(ctx)
}

// Prepare validates the request and resolves every version through the Go
// module proxy. Any mistake fails here, before the host is touched.
func Prepare(ctx context.Context, o Options) (*Plan, error) {
	// Everything that needs neither the network nor the host first: a
	// typo must not wait on either.
	c, err := check(&o)
	if err != nil {
		return nil, err
	}
	s, prov, params := c.scenario, c.provider, c.params
	if err := prov.Check(ctx, o.Node); err != nil {
		return nil, err
	}
	if ns, ok := s.(scenario.NodeSizer); ok && o.Node.MemoryMiB == 0 {
		o.Node.MemoryMiB = ns.NodeMemoryMiB()
	}
	resolved := map[string]versions.Resolved{}
	for _, rc := range s.Components() {
		name := rc.Target().Name
		var r versions.Resolved
		if dir, ok := o.Sources[name]; ok {
			if r, err = rc.Target().ResolveSource(ctx, dir); err != nil {
				return nil, err
			}
			r.Patches = c.patches[name]
			resolved[name] = r
			continue
		}
		requested, ok := c.requested[name]
		if !ok {
			// An optional component no version was given for is not built.
			continue
		}
		if r, err = rc.Target().Resolve(ctx, requested); err != nil {
			return nil, err
		}
		r.Patches = c.patches[name]
		if err := r.CheckPatches(ctx); err != nil {
			return nil, err
		}
		resolved[name] = r
	}
	exact := map[string]string{}
	for name, r := range resolved {
		exact[name] = r.Version
	}
	if err := checkPlan(s, o.Node.Provider, params, exact); err != nil {
		return nil, err
	}
	if o.ReportsDir == "" {
		o.ReportsDir = "reports"
	}
	if o.CacheDir == "" {
		dir, err := versions.CacheDir()
		if err != nil {
			return nil, err
		}
		o.CacheDir = dir
	}
	if o.StateDir == "" {
		o.StateDir = run.StateDir()
	}
	return &Plan{Options: o, Scenario: s, Resolved: resolved, Params: params, Provider: prov}, nil
}

// nodeComponents are built for the node itself, from Debian source, rather
// than by the scenario: their patches go to the node's spec.
var nodeComponents = map[string]string{
	"linux":   "KERNEL=" + vm.SourcePrefix + "<Debian version> (e.g. " + vm.SourcePrefix + "6.1.176-1) on PROVIDER=qemu",
	"systemd": "SYSTEMD=" + vm.SourcePrefix + "<Debian version> (e.g. " + vm.SourcePrefix + "252.39-1~deb12u2) on PROVIDER=qemu",
}

// IsNodeComponent says whether a --patch component is built for the node
// (from Debian source) rather than by a scenario.
func IsNodeComponent(name string) bool {
	_, ok := nodeComponents[name]
	return ok
}

// takeNodePatches moves --patch linux=... and systemd=... into the node
// spec, where the qemu provider builds them, and checks they have a source
// build to go into.
func takeNodePatches(o *Options) error {
	for name, want := range nodeComponents {
		paths, ok := o.Patches[name]
		if !ok {
			continue
		}
		target := o.Node.Kernel
		if name == "systemd" {
			target = o.Node.Systemd
		}
		if !strings.HasPrefix(target, vm.SourcePrefix) || o.Node.Provider != "qemu" {
			return fmt.Errorf("--patch %s=...: a %s patch goes into a build from Debian source; give %s", name, name, want)
		}
		patches, err := loadPatches(paths)
		if err != nil {
			return err
		}
		if name == "linux" {
			o.Node.KernelPatches = patches
		} else {
			o.Node.SystemdPatches = patches
		}
		rest := map[string][]string{}
		for k, v := range o.Patches {
			if k != name {
				rest[k] = v
			}
		}
		o.Patches = rest
	}
	return nil
}

// loadPatches reads the patch files given for a component.
func loadPatches(paths []string) ([]versions.Patch, error) {
	var out []versions.Patch
	for _, p := range paths {
		patch, err := versions.LoadPatch(p)
		if err != nil {
			return nil, fmt.Errorf("--patch %s: %w", p, err)
		}
		out = append(out, patch)
	}
	return out, nil
}

// defaultVersion is the version a scenario uses for a component the user
// did not name (the runc under a containerd bug), if it has one; chosen
// are the versions of the components before it.
func defaultVersion(s scenario.Scenario, component string, chosen map[string]string) (string, bool) {
	if d, ok := s.(scenario.WithDependentDefaults); ok {
		if v, ok := d.DefaultVersionFor(component, chosen); ok {
			return v, true
		}
	}
	d, ok := s.(scenario.WithDefaults)
	if !ok {
		return "", false
	}
	v, ok := d.DefaultVersions()[component]
	return v, ok
}

func componentNames(s scenario.Scenario) string {
	var names []string
	for _, rc := range s.Components() {
		names = append(names, rc.Target().Name)
	}
	return strings.Join(names, ", ")
}

// judged is the component the verdict judges and its version as far as
// the plan knows it: built components are known now, components the node
// brings (systemd) only once the scenario has observed them.
func (p *Plan) judged() (component, version string) {
	component = p.Scenario.Bug().Component
	if r, ok := p.Resolved[component]; ok {
		version = r.Version
	}
	return component, version
}

// runName names a run: time, scenario, the judged component and version,
// and a random suffix.
func runName(started time.Time, scenarioName, component, version, suffix string) string {
	subject := component
	if version != "" {
		subject += "-" + strings.TrimPrefix(version, "v")
	}
	return fmt.Sprintf("%s-%s-%s-%s", started.UTC().Format("20060102T150405"), scenarioName, subject, suffix)
}

// variant says what sets this run apart from the scenario's defaults: the
// node (provider, kernel, box) and every parameter not at its default.
func (p *Plan) variant() string {
	var parts []string
	if p.Node.Provider != "" && p.Node.Provider != "local" {
		parts = append(parts, "provider="+p.Node.Provider)
	}
	if p.Node.Kernel != "" {
		parts = append(parts, "kernel="+p.Node.Kernel)
	}
	for _, patch := range p.Node.KernelPatches {
		parts = append(parts, "linux-patch="+patch.Name)
	}
	if p.Node.Systemd != "" {
		parts = append(parts, "systemd="+p.Node.Systemd)
	}
	for _, patch := range p.Node.SystemdPatches {
		parts = append(parts, "systemd-patch="+patch.Name)
	}
	if p.Node.Box != "" {
		parts = append(parts, "box="+p.Node.Box)
	}
	for _, prm := range p.Scenario.Params() {
		if v := p.Params.String(prm.Name); v != prm.Default {
			parts = append(parts, prm.Name+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// CommandLine is the relapse command that runs this plan again, whoever
// made it (the CLI, a suite, the matrix): every version as resolved, every
// patch and source, every parameter not at its default, the node and the
// repetitions.
func (p *Plan) CommandLine() string {
	args := []string{"relapse", "repro", "--scenario", p.Scenario.Name()}
	var comps []string
	for c := range p.Resolved {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	for _, c := range comps {
		r := p.Resolved[c]
		if r.Source != nil {
			args = append(args, "--source", c+"="+r.Source.Dir)
			continue
		}
		args = append(args, "--version", c+"="+strings.TrimPrefix(r.Version, "v"))
		for _, path := range p.Patches[c] {
			args = append(args, "--patch", c+"="+path)
		}
	}
	for _, prm := range p.Scenario.Params() {
		if v := p.Params.String(prm.Name); v != prm.Default {
			args = append(args, "--param", prm.Name+"="+v)
		}
	}
	if p.Node.Provider != "" && p.Node.Provider != "local" {
		args = append(args, "--provider", p.Node.Provider)
	}
	if p.Node.Kernel != "" {
		args = append(args, "--kernel", p.Node.Kernel)
	}
	for _, patch := range p.Node.KernelPatches {
		args = append(args, "--patch", "linux="+patch.Path)
	}
	if p.Node.Systemd != "" {
		args = append(args, "--systemd", p.Node.Systemd)
	}
	for _, patch := range p.Node.SystemdPatches {
		args = append(args, "--patch", "systemd="+patch.Path)
	}
	if p.Node.Box != "" {
		args = append(args, "--box", p.Node.Box)
	}
	if p.Repeat > 0 {
		args = append(args, "--repeat", strconv.Itoa(p.Repeat))
	}
	return textutil.ShellQuote(args...)
}

// Result is a finished run.
type Result struct {
	Report *report.Report
	Paths  report.Paths
}

// Execute runs the plan. Whatever happens (error, timeout, cancellation,
// panic) the node is put back and a report is written; the returned error
// is only for failures to do that.
func (p *Plan) Execute(ctx context.Context) (res *Result, err error) {
	started := time.Now()
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	component, version := p.judged()
	runID := runName(started, p.Scenario.Name(), component, version, hex.EncodeToString(suffix))
	rep := &report.Report{SchemaVersion: report.SchemaVersion, RunID: runID, Scenario: p.Scenario.Name(),
		Bug: p.Scenario.Bug(), Started: started.UTC(), Invocation: p.Invocation, Rerun: p.CommandLine(), Relapse: RelapseBuild()}
	for _, prm := range p.Scenario.Params() {
		rep.Parameters = append(rep.Parameters, report.Fact{Name: prm.Name, Value: p.Params.String(prm.Name)})
	}
	rep.Variant = p.variant()
	reportDir, err := filepath.Abs(filepath.Join(p.ReportsDir, runID))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating report dir: %w", err)
	}
	// The report names the machine relapse runs on until the node is made.
	host := local.New()
	rep.Node, rep.Provider = host.Name(), p.Provider.Name()
	rep.Host, _ = host.Facts(ctx)
	rn := &run.Run{ID: runID, Node: host, ReportDir: reportDir, CacheDir: p.CacheDir,
		Ledger: &run.Ledger{}, Report: rep, Log: p.Log}
	env := &scenario.Env{Run: rn, Params: p.Params, Artifacts: map[string]versions.Artifact{}}

	var out outcome
	defer func() {
		// Runs on return and on panic: the host is put back first.
		panicked := recover()
		if panicked != nil {
			out = outcome{result: report.Inconclusive, reason: fmt.Sprintf("relapse panicked: %v", panicked), cause: report.CauseSetup}
			rn.Error(fmt.Sprintf("panic: %v\n%s", panicked, debug.Stack()))
		}
		p.teardown(ctx, env)
		if ctx.Err() != nil {
			out = interrupted(ctx, out, rep)
		}
		rep.Verdict = p.verdict(rep, out)
		// Steps are recorded when they end; show them in the order they began.
		sort.SliceStable(rep.Timeline, func(i, j int) bool { return rep.Timeline[i].At.Before(rep.Timeline[j].At) })
		rep.Finished = time.Now().UTC()
		rep.TimeToVerdict = rep.Finished.Sub(started).Seconds()
		reportDir = p.nameAfterVerdict(rep, reportDir, started, hex.EncodeToString(suffix))
		paths, werr := report.Write(reportDir, rep)
		if werr == nil {
			p.linkLatest(reportDir)
		}
		res, err = &Result{Report: rep, Paths: paths}, werr
		if panicked != nil {
			panic(panicked)
		}
	}()

	out = p.run(ctx, env)
	return nil, nil
}

// outcome is what a run ended with, before the verdict names what it judged.
type outcome struct {
	result  report.Result
	reason  string
	missing []string
	cause   string
	rate    report.Rate
}

// setupFailed is an outcome of relapse's own failure (build, provision,
// setup of the scenario).
func setupFailed(reason string, missing ...string) outcome {
	cause := report.CauseSetup
	if len(missing) > 0 {
		cause = report.CauseMissing
	}
	return outcome{result: report.Inconclusive, reason: reason, missing: missing, cause: cause}
}

// interrupted records a signal in the report. A verdict reached before it
// stands; a run stopped before any is INCONCLUSIVE for that reason.
func interrupted(ctx context.Context, out outcome, rep *report.Report) outcome {
	why := "interrupted"
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		why = "interrupted: " + c.Error()
	}
	if out.cause == report.CauseEvidence {
		rep.Interrupted = why + ", after the verdict was reached; the host was restored"
		return out
	}
	rep.Interrupted = why + ", before a verdict; the host was restored"
	out.result, out.cause = report.Inconclusive, report.CauseInterrupted
	out.reason = strings.TrimSpace(why + " before a verdict. " + out.reason)
	return out
}

// nameAfterVerdict renames the report directory when the verdict judged a
// version the plan could not know (the node's systemd), so that the run
// is named after what was judged.
func (p *Plan) nameAfterVerdict(rep *report.Report, dir string, started time.Time, suffix string) string {
	if rep.Verdict.Component == "" || rep.Verdict.Version == "" {
		return dir
	}
	name := runName(started, p.Scenario.Name(), rep.Verdict.Component, rep.Verdict.Version, suffix)
	if name == rep.RunID {
		return dir
	}
	renamed := filepath.Join(filepath.Dir(dir), name)
	if err := os.Rename(dir, renamed); err != nil {
		rep.Errors = append(rep.Errors, "naming the report directory after the judged version: "+err.Error())
		return dir
	}
	rep.RunID = name
	return renamed
}

// Repair undoes what killed runs left on this host: every journal entry,
// with the repairers the resource owners registered and the node
// providers' own. The caller holds the host lock.
func Repair(ctx context.Context, stateDir string) ([]run.Repaired, error) {
	j, err := run.OpenJournal(stateDir, "repair")
	if err != nil {
		return nil, err
	}
	return j.Repair(ctx, provision.Repairers(Providers))
}

// run does everything between the lock and the teardown.
func (p *Plan) run(ctx context.Context, env *scenario.Env) outcome {
	// Run and VM directories go below the private root: one another user
	// made first stops the run before it builds or changes anything.
	if _, err := privdir.EnsureRoot(); err != nil {
		return setupFailed("relapse's private directory cannot be used: "+err.Error(), err.Error())
	}
	if r, ok := p.Provider.(provision.Requirer); ok {
		if missing := r.Missing(); len(missing) > 0 {
			return setupFailed("the "+p.Provider.Name()+" provider cannot run here", missing...)
		}
	}
	for _, rc := range p.Scenario.Components() {
		r, ok := p.Resolved[rc.Target().Name]
		if !ok {
			// An optional component no version was given for.
			continue
		}
		from := r.Sum
		if r.Source != nil {
			from = "local tree " + r.Source.Dir + " " + r.Source.Key
		}
		env.Logf("building %s %s (%s)", rc.Target().Name, r.Version, from)
		var art versions.Artifact
		err := env.Timed("build "+rc.Target().Name, r.Version, func() (err error) {
			art, err = rc.Build(ctx, r, p.CacheDir)
			return err
		})
		if err != nil {
			return setupFailed(err.Error(), err.Error())
		}
		how := fmt.Sprintf("built in %.1fs", art.BuildSeconds)
		if art.Cached {
			how = "from cache"
		}
		env.Logf("%s %s ready (%s): %s", rc.Target().Name, r.Version, how, art.Path)
		env.Artifacts[rc.Target().Name] = art
		env.Report.Components = append(env.Report.Components, art)
		keepPatches(env, art)
	}

	// Builds change nothing on the host and take their own cache locks: the
	// host lock is taken only now, so a long build (Kubernetes, ~10 min
	// cold) does not keep every other run off the host.
	// A run whose changes all live in a VM of its own shares the lock with
	// other such runs; one that changes this host holds it alone.
	lock, err := run.AcquireHost(ctx, p.StateDir, p.Provider.Name() == "local", p.LockWait)
	if err != nil {
		return setupFailed(err.Error())
	}
	env.DeferCleanup("release host lock", func(context.Context) error { lock.Unlock(); return nil })
	repaired, err := Repair(ctx, p.StateDir)
	for _, r := range repaired {
		env.Event("repaired leftover of a killed run", strings.TrimSpace(r.Note+" "+r.Error))
		env.Logf("repaired leftover of killed run %s: %s %s", r.Entry.RunID, r.Note, r.Error)
	}
	if err != nil {
		return setupFailed("a killed run left changes that could not be undone: " + err.Error())
	}
	env.Journal, err = run.OpenJournal(p.StateDir, env.ID)
	if err != nil {
		return setupFailed(err.Error())
	}

	if err := p.provision(ctx, env); err != nil {
		return setupFailed("provisioning the node failed: " + err.Error())
	}
	if out, ok := p.checkPreconditions(ctx, env); !ok {
		return out
	}

	env.Dir = run.NewDir(env.ID)
	dirNode := env.Node
	if _, err := env.Own(ctx, "remove "+env.Dir, "run-dir", map[string]string{"path": env.Dir},
		func(ctx context.Context) error { return run.MakeDir(ctx, dirNode, env.Dir) },
		func(ctx context.Context) error { return dirNode.Command("rm", "-rf", env.Dir).Run(ctx) }); err != nil {
		return setupFailed(err.Error())
	}
	if p.hold != nil {
		if err := p.hold(ctx, env); err != nil {
			return setupFailed(err.Error(), err.Error())
		}
		return outcome{reason: "held: the run served a tool; no trigger ran, so there is no verdict", cause: report.CauseHeld}
	}
	return p.repeat(ctx, env)
}

// checkPreconditions checks what the scenario relies on in its node,
// after the host lock and the repair of killed runs (which may put back
// what an earlier run changed) and before the run changes anything. An
// unmet one ends the run INCONCLUSIVE naming the cause and the command
// that fixes it, where a run would otherwise fail later without saying why.
func (p *Plan) checkPreconditions(ctx context.Context, env *scenario.Env) (outcome, bool) {
	held, unmet, err := scenario.CheckPreconditions(ctx, p.Scenario, p.Params, env.Node)
	if err != nil {
		return setupFailed(err.Error()), false
	}
	if len(held) > 0 {
		env.Condition("checked before the run", strings.Join(held, "; "))
	}
	if len(unmet) == 0 {
		return outcome{}, true
	}
	var missing, fixes []string
	for _, u := range unmet {
		missing = append(missing, u.Error())
		fixes = append(fixes, u.Fix)
		env.Logf("precondition not met: %s", u.Error())
	}
	reason := fmt.Sprintf("the node is not as %s needs it, nothing was changed: %s. Fix it with: %s",
		p.Scenario.Name(), strings.Join(missing, "; "), strings.Join(fixes, " && "))
	return setupFailed(reason, missing...), false
}

// keepPatches saves the patches a build applied with the report, so the
// report's bundle carries the diffs its build command applies.
func keepPatches(env *scenario.Env, art versions.Artifact) {
	for _, p := range art.Patches {
		rel := filepath.Join("patches", art.Component, p.Name)
		if err := os.MkdirAll(filepath.Join(env.ReportDir, filepath.Dir(rel)), 0o755); err == nil {
			if err := os.WriteFile(filepath.Join(env.ReportDir, rel), []byte(p.Diff), 0o644); err == nil {
				what := fmt.Sprintf("patch applied to %s %s before the build (sha256 %s)", art.Component, art.Version, p.SHA256)
				if p.RevertsFix != "" {
					what += "; it takes out " + p.RevertsFix
				}
				env.File(report.File{Name: p.Name, Path: rel, Description: what})
				continue
			}
		}
		env.Error("keeping patch " + p.Name + " with the report failed")
	}
}

// repeat runs the scenario's repetitions, each from nothing (its own
// directory, ledger and cleanups, undone before the next), and combines
// them with the verdict rule. Without an explicit Repeat it stops as soon
// as the verdict is decided.
func (p *Plan) repeat(ctx context.Context, env *scenario.Env) outcome {
	sampling := p.Scenario.Sampling()
	limit, explicit := p.Repeat, p.Repeat > 0
	if !explicit {
		limit = sampling.Needed()
	}
	env.Condition("repetitions", fmt.Sprintf("%s; %s", plural(limit, "repetition"), sampling.Describe()))
	var reps []report.Repetition
	for n := 1; n <= limit; n++ {
		rep, err := p.repetition(ctx, env, n, limit)
		if err != nil {
			return setupFailed("setup failed: " + err.Error())
		}
		reps = append(reps, rep)
		if ctx.Err() != nil {
			break
		}
		if !explicit && rep.Result == report.Reproduced {
			break
		}
	}
	env.Report.Repetitions = reps
	result, reason, rate := report.Combine(reps, sampling)
	cause := report.CauseEvidence
	if result == report.Inconclusive {
		cause = report.CauseUndecided
	}
	return outcome{result: result, reason: reason, cause: cause, rate: rate}
}

// repetition runs the scenario once in a child context and puts back
// everything it changed before returning.
func (p *Plan) repetition(ctx context.Context, env *scenario.Env, n, of int) (report.Repetition, error) {
	child := env.Repetition(n)
	if of == 1 {
		child.Dir = env.Dir
	} else {
		env.Logf("repetition %d of %d", n, of)
		env.Event("repetition", fmt.Sprintf("%d of %d", n, of))
		if err := child.Node.Command("mkdir", "-p", child.Dir).Run(ctx); err != nil {
			return report.Repetition{}, err
		}
	}
	renv := &scenario.Env{Run: child, Artifacts: env.Artifacts, Params: env.Params}
	start := time.Now()
	result, reason, err := p.Scenario.Run(ctx, renv)
	p.undo(ctx, child)
	rep := report.Repetition{N: n, Result: result, Reason: reason, Seconds: time.Since(start).Seconds()}
	if err != nil {
		return rep, err
	}
	if rep.Result == "" {
		rep.Result, rep.Reason = report.Inconclusive, "the repetition ended without a result"
	}
	env.Logf("repetition %d: %s: %s", n, rep.Result, textutil.FirstLine(rep.Reason))
	return rep, nil
}

// undo puts back what one repetition changed: its ledger, then its
// cleanups, with a deadline of their own.
func (p *Plan) undo(ctx context.Context, r *run.Run) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), teardownTimeout)
	defer cancel()
	if err := r.Ledger.UndoAll(cctx); err != nil {
		r.Error(err.Error())
	}
	r.Report.Changes = append(r.Report.Changes, r.Ledger.Records()...)
	if err := r.RunCleanups(cctx); err != nil {
		r.Error(err.Error())
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// provision makes the node the scenario runs on. For a node that is not
// the host itself it also records the host's kernel parameters before and
// after, so the report shows kernel-level chaos stayed inside the node.
func (p *Plan) provision(ctx context.Context, env *scenario.Env) error {
	if p.Provider.Name() == "local" {
		return nil
	}
	before := hostSysctls(ctx)
	env.DeferCleanup("check the host's kernel parameters", func(ctx context.Context) error {
		after := hostSysctls(ctx)
		env.NodeFact(report.Fact{Name: "host kernel parameters (relapse's own machine)", Value: compareSysctls(before, after)})
		if changed := changedSysctls(before, after); changed != "" {
			return fmt.Errorf("the host's kernel parameters changed during a %s run: %s", p.Provider.Name(), changed)
		}
		return nil
	})
	spec := p.Node
	if dp, ok := p.Scenario.(scenario.DiskProvider); ok {
		err := env.Timed("prepare node disks", p.Scenario.Name(), func() (err error) {
			spec.Disks, err = dp.NodeDisks(ctx, env)
			return err
		})
		if err != nil {
			return err
		}
	}
	n, err := p.Provider.Provision(ctx, spec, env.Run)
	if err != nil {
		return err
	}
	env.Node = n
	env.Report.Node = n.Name()
	if facts, err := n.Facts(ctx); err == nil {
		env.Report.Host = facts
	} else {
		env.Error("reading the node's facts: " + err.Error())
	}
	return nil
}

// watchedHostSysctls are the host parameters the scenarios' triggers (and
// kubelet) would change if they leaked out of a node.
var watchedHostSysctls = []string{"fs.pipe-user-pages-soft", "kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory", "net.ipv4.ip_forward"}

func hostSysctls(ctx context.Context) map[string]string {
	out := map[string]string{}
	for _, k := range watchedHostSysctls {
		v, err := node.ReadSysctl(ctx, local.New(), k)
		if err != nil {
			v = "unreadable"
		}
		out[k] = v
	}
	return out
}

func compareSysctls(before, after map[string]string) string {
	var parts []string
	for _, k := range watchedHostSysctls {
		if before[k] == after[k] {
			parts = append(parts, fmt.Sprintf("%s=%s (unchanged)", k, before[k]))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s -> %s (CHANGED)", k, before[k], after[k]))
		}
	}
	return strings.Join(parts, "; ")
}

func changedSysctls(before, after map[string]string) string {
	var changed []string
	for _, k := range watchedHostSysctls {
		if before[k] != after[k] {
			changed = append(changed, fmt.Sprintf("%s %s -> %s", k, before[k], after[k]))
		}
	}
	return strings.Join(changed, ", ")
}

// teardownTimeout bounds the whole teardown: the run's context may be
// cancelled, and every cleanup step has a deadline of its own inside it.
const teardownTimeout = 5 * time.Minute

// teardown undoes the ledger, runs the cleanups and checks the host, with
// a deadline of its own.
func (p *Plan) teardown(ctx context.Context, env *scenario.Env) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), teardownTimeout)
	defer cancel()
	if err := env.Ledger.UndoAll(cctx); err != nil {
		env.Error(err.Error())
	}
	env.Report.Changes = append(env.Report.Changes, env.Ledger.Records()...)
	// The host lock is the first cleanup registered, so it is released last.
	if err := env.RunCleanups(cctx); err != nil {
		env.Error(err.Error())
	}
	// A VM node is gone by now, and everything in it with it.
	if env.Dir != "" && env.Node.Provider() == "local" {
		if left := leftovers(cctx, env.Node, env.Dir); len(left) > 0 {
			env.Error("processes left after cleanup (killed now): " + strings.Join(left, "; "))
		}
	}
}

// leftovers finds and kills processes still referring to the run's directory.
func leftovers(ctx context.Context, n node.Node, dir string) []string {
	procs, err := n.Processes(ctx)
	if err != nil {
		return []string{"cannot list processes: " + err.Error()}
	}
	var left []string
	for _, pr := range procs {
		if strings.Contains(pr.CommandLine(), dir) {
			left = append(left, fmt.Sprintf("pid %d %s", pr.PID, pr.CommandLine()))
			_ = n.Kill(ctx, pr.PID, 9)
		}
	}
	return left
}

// verdict is where a run's verdict is made, once: the result and what it
// rests on, the rate over the repetitions, and the component and version
// it judges (built by relapse, or read off the node), with what the bug's
// affected range predicts for that version.
func (p *Plan) verdict(rep *report.Report, out outcome) report.Verdict {
	v := report.Verdict{Result: out.result, Reason: out.reason, Missing: out.missing, Cause: out.cause,
		Rate: out.rate, Sampling: p.Scenario.Sampling()}
	if v.Result == "" && v.Cause != report.CauseHeld {
		v.Result, v.Reason, v.Cause = report.Inconclusive, "the run ended before a verdict", report.CauseSetup
	}
	bug := p.Scenario.Bug()
	v.Component = bug.Component
	var reverted []string
	if r, built := p.Resolved[bug.Component]; built {
		v.Version = r.Version
		reverted = r.RevertedFixes()
		v.Build = buildNote(r)
	} else if seen, ok := rep.Observed[bug.Component]; ok {
		v.Version = seen
		// A node component built from Debian source (systemd on a qemu
		// node) carries its patches in the node's spec.
		if patches := p.nodePatches(bug.Component); len(patches) > 0 {
			r := versions.Resolved{Version: seen, Patches: patches}
			reverted, v.Build = r.RevertedFixes(), "Debian source build, "+buildNote(r)
		}
	}
	if v.Version != "" {
		expected, why, err := report.ExpectReverted(bug, v.Version, reverted)
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
		// A fix turned off by a setting (a kubelet feature gate) is
		// taken out as surely as by a revert patch.
		if fs, ok := p.Scenario.(scenario.FixSwitcher); ok {
			if how := fs.FixTurnedOff(p.Params); how != "" {
				expected, why = report.ExpectTurnedOff(bug, v.Version, how)
			}
		}
		v.Expected, v.ExpectedWhy = expected, why
		v.Matches = v.Result == expected
	}
	return v
}

// nodePatches are the patches of a component the node's provider built.
func (p *Plan) nodePatches(component string) []versions.Patch {
	switch component {
	case "systemd":
		return p.Node.SystemdPatches
	case "linux":
		return p.Node.KernelPatches
	}
	return nil
}

// buildNote says how a build differs from the release as published.
func buildNote(r versions.Resolved) string {
	var parts []string
	if s := r.Source; s != nil {
		note := "local tree " + s.Dir
		if s.Commit != "" {
			note += " at " + s.Commit[:12]
		}
		if s.Dirty {
			note += " with uncommitted changes"
		}
		parts = append(parts, note)
	}
	if len(r.Patches) > 0 {
		var names []string
		for _, p := range r.Patches {
			names = append(names, p.Name)
		}
		parts = append(parts, "patched: "+strings.Join(names, ", "))
	}
	return strings.Join(parts, "; ")
}

// linkLatest points reports/latest at the newest report.
func (p *Plan) linkLatest(reportDir string) {
	latest := filepath.Join(filepath.Dir(reportDir), "latest")
	_ = os.Remove(latest)
	_ = os.Symlink(filepath.Base(reportDir), latest)
}
