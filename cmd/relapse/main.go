// Command relapse reproduces container-runtime bugs as pinned experiments
// and writes a verdict and a report fit to attach upstream.
//
//	relapse repro --scenario runc-pipe-hang --runc rc93
//	relapse scenarios
//	relapse versions runc
//	relapse repair
//
// Exit status of repro: 0 a verdict was reached (REPRODUCED or NOT
// REPRODUCED), 3 INCONCLUSIVE, 4 the verdict contradicts the bug's affected
// range and --fail-on-mismatch was given, 2 bad usage, 1 relapse failed,
// 130 interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/bisect"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/progress"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/scenario"
	_ "github.com/relapse-dev/relapse/harness/scenarios"
	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

const (
	exitVerdict      = 0
	exitFailed       = 1
	exitUsage        = 2
	exitInconclusive = 3
	exitMismatch     = 4
	exitInterrupted  = 130
)

func main() {
	// If whoever started relapse (make, a CI step) dies, relapse gets
	// SIGTERM and cleans up instead of running on with the host changed.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0)
	ctx, stop := signalContext(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:]))
}

// signalContext is cancelled by the first of sigs, with the signal as the
// cause, so a report can say what interrupted it.
func signalContext(sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		if s, ok := <-ch; ok {
			cancel(fmt.Errorf("received %s", s))
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: relapse <command> [flags]

commands:
  repro      run one scenario at chosen versions; prints the verdict and the report path
  scenarios  list scenarios, their bugs and parameters
  versions   list the known versions of a component (runc)
  matrix     run a matrix file's cells (--file ci/nightly.yaml; --list, --shard i/n, --cell ID) in Prow's
             layout, or a scenario at every pinned version of its component (--scenario)
  results    merge cell results into the history store, compare nights, write the dashboard
  nightly    matrix + results in one: run a matrix file's cells, merge them as tonight, compare, dashboard
  bisect     find the release (or commit, with --source) where a bug came in or went away
  chaos      explore a pinned stack with seeded schedules of workloads and faults under generic invariants
  repair     undo what a killed run left on this host (also done at every repro start)

run "relapse <command> -h" for a command's flags.
`)
}

// matrixFileCmd and nightlyCmd are set by nightly.go, which a lean build
// (-tags relapse_lean) leaves out.
var matrixFileCmd, nightlyCmd func(ctx context.Context, args []string) int

// chaosCmd is set by chaos.go, which a lean build leaves out.
var chaosCmd func(ctx context.Context, args []string) int

// bisectRelapses bisects the relapses of a store's latest night with the
// cells of a matrix file (`relapse results --bisect-relapses`); set by
// nightly.go too.
var bisectRelapses func(ctx context.Context, stdout io.Writer, store, file string, deadline time.Duration) int

// leanBuild says whether this binary is a lean build (-tags relapse_lean).
func leanBuild() bool { return nightlyCmd == nil }

// usageError reports a mistake in what was asked, before anything ran,
// and gives the usage exit status. Only a mistake a lean build causes (a
// scenario or engine it does not link) gets the hint to build the full
// binary: for a typo or a patch that does not apply it would mislead.
func usageError(err error) int {
	fmt.Fprintf(os.Stderr, "relapse: %v\nnothing on this host was changed.\n", err)
	if leanBuild() && errors.Is(err, scenario.ErrNotLinked) {
		fmt.Fprintln(os.Stderr, "relapse: this is a lean build (-tags relapse_lean): it links only the scenarios and engines that drive runc alone; `make build` makes bin/relapse with all of them")
	}
	return exitUsage
}

// parseFlags parses a command's flags and refuses anything after them: a
// stray word ("relapse repro rc93") is a mistake, not something to
// ignore. -h is help, not an error.
func parseFlags(fs *flag.FlagSet, args []string) (status int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitVerdict, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "relapse %s: unexpected argument %q: this command takes flags only (see relapse %s -h)\n", fs.Name(), fs.Arg(0), fs.Name())
		return exitUsage, false
	}
	return 0, true
}

// noArgs refuses arguments to a command that takes none.
func noArgs(command string, args []string) bool {
	if len(args) > 0 {
		fmt.Fprintf(os.Stderr, "relapse %s: unexpected argument %q: the command takes none\n", command, args[0])
		return false
	}
	return true
}

// checkLockWait refuses a negative --lock-wait.
func checkLockWait(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("--lock-wait %s: want how long to wait, 0 or more (e.g. 30m)", d)
	}
	return nil
}

func notInLeanBuild(command string) int {
	fmt.Fprintf(os.Stderr, "relapse: `relapse %s` is not in this lean build (-tags relapse_lean, what `make repro` builds "+
		"for a scenario that drives runc alone, without the cluster and engine clients); `make build` makes bin/relapse with every command\n", command)
	return exitUsage
}

func dispatch(ctx context.Context, args []string) int {
	if len(args) == 0 {
		usage()
		return exitUsage
	}
	switch args[0] {
	case "repro":
		return repro(ctx, args[1:])
	case "scenarios":
		if !noArgs("scenarios", args[1:]) {
			return exitUsage
		}
		return listScenarios()
	case "versions":
		return listVersions(args[1:])
	case "matrix":
		return matrix(ctx, args[1:])
	case "results":
		return resultsCmd(ctx, args[1:])
	case "nightly":
		if nightlyCmd == nil {
			return notInLeanBuild("nightly")
		}
		return nightlyCmd(ctx, args[1:])
	case "bisect":
		return bisectCmd(ctx, args[1:])
	case "chaos":
		if chaosCmd == nil {
			return notInLeanBuild("chaos")
		}
		return chaosCmd(ctx, args[1:])
	case "bisect-step":
		return bisectStep(ctx, args[1:])
	case "repair":
		if !noArgs("repair", args[1:]) {
			return exitUsage
		}
		return repair(ctx)
	case "-h", "--help", "help":
		usage()
		return exitVerdict
	}
	fmt.Fprintf(os.Stderr, "relapse: unknown command %q\n", args[0])
	usage()
	return exitUsage
}

// nodeFlags adds the flags that choose the node and returns what they say.
func nodeFlags(fs *flag.FlagSet) func() provision.Spec {
	var spec provision.Spec
	fs.StringVar(&spec.Provider, "provider", "local", "node provider:\n"+describeProviders())
	fs.StringVar(&spec.Kernel, "kernel", "", "guest kernel of a VM node: an alias from `relapse versions kernel`, a Debian ABI (6.1.0-53, 6.12.113+deb12[-amd64]), a bzImage path, or source:<Debian version> to build linux from Debian source (with --patch linux=FILE)")
	fs.StringVar(&spec.KernelModules, "kernel-modules", "", "lib/modules/<release> of a bzImage given with --kernel")
	fs.StringVar(&spec.Systemd, "systemd", "", "systemd of a qemu node: \"\" for the root filesystem's own (Debian's 252), or source:<Debian version> to build it from Debian source (with --patch systemd=FILE) into a root filesystem variant")
	fs.StringVar(&spec.Box, "box", "", "Vagrant box (default: the box relapse builds offline from its root filesystem)")
	fs.IntVar(&spec.MemoryMiB, "memory", 0, "memory of a VM node in MiB (default 1536)")
	fs.IntVar(&spec.CPUs, "cpus", 0, "vCPUs of a VM node (default 2)")
	return func() provision.Spec { return spec }
}

// multiFlag collects repeated key=value flags.
type multiFlag map[string]string

func (m multiFlag) String() string { return fmt.Sprint(map[string]string(m)) }
func (m multiFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	// A second value would silently win: one of them is a mistake.
	if old, dup := m[k]; dup {
		return fmt.Errorf("%s given twice (%q and %q): give it once", k, old, val)
	}
	m[k] = val
	return nil
}

// listFlag collects repeated component=value flags, keeping their order.
type listFlag map[string][]string

func (m listFlag) String() string { return fmt.Sprint(map[string][]string(m)) }
func (m listFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || val == "" {
		return fmt.Errorf("want component=path, got %q", v)
	}
	m[k] = append(m[k], val)
	return nil
}

// printChanges prints each setting the run changed once (repetitions
// change the same ones again), and what it made for itself in one line.
func printChanges(changes []report.Change) {
	seen := map[string]bool{}
	made, left := map[string]int{}, 0
	var kinds []string
	for _, c := range changes {
		if c.Applied == "made for the run" {
			if made[c.Kind] == 0 {
				kinds = append(kinds, c.Kind)
			}
			made[c.Kind]++
			if !c.Restored {
				left++
			}
			continue
		}
		restored := fmt.Sprint(c.Restored)
		if c.Disposable {
			restored = "no need: " + c.RestoreNote
		}
		line := fmt.Sprintf("  %s %s: %s -> %s -> %s (restored: %s)", c.Kind, c.Target, c.Before, c.Applied, c.After, restored)
		if !seen[line] {
			seen[line] = true
			fmt.Println(line)
		}
	}
	if len(kinds) > 0 {
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%d %s", made[k], k))
		}
		state := "all removed"
		if left > 0 {
			state = fmt.Sprintf("%d NOT removed", left)
		}
		fmt.Printf("  made for the run: %s (%s)\n", strings.Join(parts, ", "), state)
	}
}

func repro(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("repro", flag.ContinueOnError)
	scen := fs.String("scenario", "runc-pipe-hang", "scenario to run (see `relapse scenarios`)")
	runc := fs.String("runc", "", "runc version: an alias from `relapse versions runc` or a full version")
	containerd := fs.String("containerd", "", "containerd version: an alias from `relapse versions containerd` or a full version")
	nodeSpec := nodeFlags(fs)
	reports := fs.String("reports", "reports", "directory that receives <run-id>/report.{json,html} and junit.xml")
	failOnMismatch := fs.Bool("fail-on-mismatch", false, "exit 4 when the verdict contradicts the bug's affected range (for regression matrices)")
	patches := listFlag{}
	sources := multiFlag{}
	fs.Var(patches, "patch", "component=FILE: apply a unified diff (patch -p1, module root) to that component's source before building it; repeatable, applied in order")
	fs.Var(sources, "source", "component=DIR: build that component from a local tree or git checkout instead of a release (runc, containerd)")
	repeat := fs.Int("repeat", 0, "independent repetitions to run, all of them, for a rate with its interval (default: until the verdict is decided, as the scenario's sampling says)")
	lockWait := fs.Duration("lock-wait", 0, "how long to wait for the host lock another relapse run holds (default: fail at once, naming it)")
	vers := multiFlag{}
	params := multiFlag{}
	fs.Var(vers, "version", "component=version, repeatable (e.g. runc=rc93)")
	fs.Var(params, "param", "scenario parameter name=value, repeatable (see `relapse scenarios`)")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	for comp, v := range map[string]string{"runc": *runc, "containerd": *containerd} {
		if v == "" {
			continue
		}
		if err := vers.Set(comp + "=" + v); err != nil {
			return usageError(fmt.Errorf("--%s and --version %s=...: %w", comp, comp, err))
		}
	}
	if err := checkLockWait(*lockWait); err != nil {
		return usageError(err)
	}
	plan, err := experiment.Prepare(ctx, experiment.Options{
		Scenario: *scen, Versions: vers, Params: params, Node: nodeSpec(), Repeat: *repeat, Patches: patches, Sources: sources,
		ReportsDir: *reports, Invocation: "relapse repro " + strings.Join(args, " "), Log: stderrLog, LockWait: *lockWait,
	})
	if err != nil {
		return usageError(err)
	}
	res, err := plan.Execute(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	v := res.Report.Verdict
	fmt.Printf("\n%s  %s  (%s)\n", v.Result, bugName(res.Report.Bug), res.Report.ComponentVersion())
	fmt.Printf("  %s\n", v.Reason)
	if len(res.Report.Repetitions) > 0 {
		fmt.Printf("  repetitions: %s reproduced; %s\n", v.Rate, v.Sampling.Describe())
	}
	match := "as expected"
	if !v.Matches {
		match = "NOT as expected"
	}
	fmt.Printf("  expected %s: %s (%s)\n", v.Expected, v.ExpectedWhy, match)
	printChanges(res.Report.Changes)
	for _, e := range res.Report.Errors {
		fmt.Printf("  error: %s\n", textutil.FirstLine(e))
	}
	if res.Report.Interrupted != "" {
		fmt.Printf("  %s\n", res.Report.Interrupted)
	}
	fmt.Printf("  report:  %s\n", res.Paths.HTML)
	fmt.Printf("  summary: %s (Markdown for the upstream issue)\n", res.Paths.Markdown)
	fmt.Printf("  bundle:  %s\n", res.Paths.Bundle)
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case v.Result == report.Inconclusive:
		return exitInconclusive
	case *failOnMismatch && !v.Matches:
		return exitMismatch
	}
	return exitVerdict
}

// matrix runs the scenario once per pinned version of the bug's component,
// as the nightly regression matrix does, and fails when any verdict
// contradicts the affected range.
func matrix(ctx context.Context, args []string) int {
	for _, a := range args {
		if a == "--file" || a == "-file" || strings.HasPrefix(a, "--file=") || strings.HasPrefix(a, "-file=") {
			if matrixFileCmd == nil {
				return notInLeanBuild("matrix --file")
			}
			return matrixFileCmd(ctx, args)
		}
	}
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	scen := fs.String("scenario", "runc-pipe-hang", "scenario to run (see `relapse scenarios`)")
	reports := fs.String("reports", "reports", "directory that receives one report per version and matrix-junit.xml")
	params := multiFlag{}
	fs.Var(params, "param", "scenario parameter name=value, repeatable")
	nodeSpec := nodeFlags(fs)
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	s, err := scenario.Lookup(*scen)
	if err != nil {
		return usageError(err)
	}
	recipe := scenario.Builder(s, s.Bug().Component)
	if recipe == nil {
		return usageError(fmt.Errorf("scenario %s does not build %s, the component its bug is about", s.Name(), s.Bug().Component))
	}
	// The flags are the same at every version: a mistake in them is one
	// usage error, not one failure per version.
	if err := experiment.Check(experiment.Options{Scenario: *scen, Params: params, Node: nodeSpec(),
		Versions: map[string]string{recipe.Target().Name: recipe.Target().Pins[0].Alias}}); err != nil {
		return usageError(err)
	}
	var done []*report.Report
	status := exitVerdict
	for _, pin := range recipe.Target().Pins {
		if ctx.Err() != nil {
			return exitInterrupted
		}
		plan, err := experiment.Prepare(ctx, experiment.Options{Scenario: *scen, Params: params, ReportsDir: *reports, Node: nodeSpec(),
			Versions: map[string]string{recipe.Target().Name: pin.Alias}, Log: stderrLog,
			Invocation: fmt.Sprintf("relapse matrix --scenario %s (%s=%s)", *scen, recipe.Target().Name, pin.Alias)})
		if err != nil {
			fmt.Fprintf(os.Stderr, "relapse: %s %s: %v\n", recipe.Target().Name, pin.Alias, err)
			status = exitFailed
			continue
		}
		res, err := plan.Execute(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
			status = exitFailed
			continue
		}
		v := res.Report.Verdict
		fmt.Printf("%-8s %-16s %-15s expected %-15s %s\n", pin.Alias, pin.Version, v.Result, v.Expected, res.Paths.HTML)
		if !v.Matches && status == exitVerdict {
			status = exitMismatch
		}
		done = append(done, res.Report)
	}
	if err := report.WriteJUnitSuite(filepath.Join(*reports, "matrix-junit.xml"), done); err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	return status
}

// describeProviders lists the node providers, one line each.
func describeProviders() string {
	var b strings.Builder
	for _, p := range experiment.Providers.All() {
		fmt.Fprintf(&b, "  %-8s %s\n", p.Name(), p.Describe())
	}
	return b.String()
}

// bugName is the bug as upstream names it, with its fix when there is one
// ("containerd#5261 / runc#2871").
func bugName(b report.Bug) string {
	if b.Fix != "" {
		return b.ID + " / " + b.Fix
	}
	return b.ID
}

func listScenarios() int {
	for _, name := range scenario.Names() {
		s, _ := scenario.Lookup(name)
		b := s.Bug()
		fmt.Printf("%s\n  bug: %s: %s\n  affected: %s %s; fixed: %s\n", name, bugName(b), b.Title, b.Component, b.Affected, b.Fixed)
		for _, line := range scenario.DescribeSupport(s) {
			fmt.Printf("  runs with %s\n", line)
		}
		for _, p := range s.Params() {
			fmt.Printf("  --param %s=%s\t%s\n", p.Name, p.Default, p.Help)
		}
	}
	return exitVerdict
}

func listVersions(args []string) int {
	if len(args) > 1 {
		fmt.Fprintf(os.Stderr, "relapse versions: unexpected argument %q: give one component at most (runc, containerd, kubernetes, kernel)\n", args[1])
		return exitUsage
	}
	if len(args) > 0 && args[0] == "kernel" {
		fmt.Print(vm.KnownKernels())
		return exitVerdict
	}
	components := []versions.Component{versions.Runc, versions.Containerd, versions.Kubernetes}
	for _, c := range components {
		if len(args) > 0 && args[0] != c.Name {
			continue
		}
		fmt.Printf("%s versions (%s); any other version the Go module proxy serves works in full:\n%s%s\n",
			c.Name, c.Module, c.Known(), selectorsToday(c))
		if len(args) > 0 {
			return exitVerdict
		}
	}
	if len(args) > 0 {
		fmt.Fprintf(os.Stderr, "relapse: unknown component %q: known components are runc, containerd, kubernetes, kernel\n", args[0])
		return exitUsage
	}
	return exitVerdict
}

// selectorsToday says what the selectors mean for c now, asking the Go
// module proxy (bounded: a proxy that does not answer is named, and the
// aliases above still stand).
func selectorsToday(c versions.Component) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed, err := c.Served(ctx)
	if err != nil {
		return fmt.Sprintf("  selectors (latest, latest-X.Y, maintained): the Go module proxy could not be asked: %v\n", err)
	}
	line := func(text string) string {
		sel, _ := versions.ParseSelector(text)
		picked, err := sel.Pick(listed, c.Maintenance, time.Now())
		if err != nil {
			return err.Error()
		}
		return strings.Join(picked, " ")
	}
	return fmt.Sprintf("  latest     %s (the newest release the proxy lists today)\n  maintained %s (%s)\n",
		line(versions.SelectLatest), line(versions.SelectMaintained), c.Maintenance.Source)
}

func repair(ctx context.Context) int {
	lock, err := run.LockHost(run.StateDir())
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	defer lock.Unlock()
	done, err := experiment.Repair(ctx, run.StateDir())
	for _, r := range done {
		fmt.Printf("repaired %s (run %s): %s%s\n", r.Entry.Kind, r.Entry.RunID, r.Note, r.Error)
	}
	if len(done) == 0 {
		fmt.Println("nothing to repair")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		return exitFailed
	}
	return exitVerdict
}

// bisectFlags are the flags bisect and bisect-step share.
func bisectFlags(fs *flag.FlagSet) func() bisect.Options {
	var o bisect.Options
	fs.StringVar(&o.Scenario, "scenario", "runc-pipe-hang", "scenario to run at each step (see `relapse scenarios`)")
	fs.StringVar(&o.Component, "component", "", "component whose versions (or commits) are searched: runc, containerd, kubernetes")
	fs.StringVar(&o.Source, "source", "", "a git checkout of the component: search its commits between --good and --bad instead of releases")
	fs.StringVar(&o.ReportsDir, "reports", "reports", "directory that receives each step's report and the bisection's page")
	fs.IntVar(&o.Repeat, "repeat", 0, "repetitions per step (default: as the scenario's sampling needs)")
	fs.DurationVar(&o.LockWait, "lock-wait", 0, "how long each step waits for the host lock another run holds")
	vers, params := multiFlag{}, multiFlag{}
	fs.Var(vers, "version", "another component's version, component=version, repeatable")
	fs.Var(params, "param", "scenario parameter name=value, repeatable")
	node := nodeFlags(fs)
	return func() bisect.Options {
		o.Versions, o.Params, o.Node = vers, params, node()
		return o
	}
}

func bisectCmd(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bisect", flag.ContinueOnError)
	opts := bisectFlags(fs)
	good, bad := listFlag{}, listFlag{}
	fs.Func("good", "a version (or commit) known NOT REPRODUCED; repeatable", func(v string) error { return good.Set("v=" + v) })
	fs.Func("bad", "a version (or commit) known REPRODUCED; repeatable", func(v string) error { return bad.Set("v=" + v) })
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	o := opts()
	o.Good, o.Bad, o.Log = good["v"], bad["v"], stderrLog
	// A bug declared with the kit knows its endpoints: the last affected
	// release is bad, the first fixed good (with --source, the commits
	// between them are searched for the fix).
	if b, ok := kit.Lookup(o.Scenario); ok && len(o.Good) == 0 && len(o.Bad) == 0 {
		bad, good := kit.Endpoints(b)
		o.Bad, o.Good = []string{bad}, []string{good}
		if o.Component == "" {
			o.Component = b.Component
		}
		fmt.Fprintf(os.Stderr, "relapse: %s: bisecting between its declared endpoints, --bad %s --good %s\n", b.Name(), bad, good)
	}
	if err := checkLockWait(o.LockWait); err != nil {
		return usageError(err)
	}
	if o.Component == "" {
		fmt.Fprintln(os.Stderr, "relapse: bisect needs --component (the one whose versions are searched)\nnothing on this host was changed.")
		return exitUsage
	}
	var res *bisect.Result
	var err error
	if o.Source != "" {
		res, err = bisect.Commits(ctx, o, "")
	} else {
		res, err = bisect.Releases(ctx, o)
	}
	if res == nil {
		return usageError(err)
	}
	dir := filepath.Join(o.ReportsDir, "bisect-"+res.Started.Format("20060102T150405")+"-"+res.Scenario+"-"+res.Component)
	page, werr := bisect.Write(dir, res)
	fmt.Printf("\nbisection of %s over %s, %d experiments in %.0f s:\n", res.Bug.ID, res.Component, res.Experiments(), res.Seconds)
	for _, line := range bisect.Summary(res) {
		fmt.Printf("  %s\n", line)
	}
	if werr == nil {
		fmt.Printf("  page: %s\n", page)
	}
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "relapse: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailed
	case werr != nil:
		fmt.Fprintf(os.Stderr, "relapse: %v\n", werr)
		return exitFailed
	}
	return exitVerdict
}

// bisectStep is what `git bisect run` calls at each commit.
func bisectStep(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bisect-step", flag.ContinueOnError)
	opts := bisectFlags(fs)
	old := fs.String("old", "good", "the label git's old term stands for: good (searching where the bug came in) or bad (where it went away)")
	if err := fs.Parse(args); err != nil {
		return bisect.ExitSkip
	}
	o := opts()
	o.Log = stderrLog
	return bisect.RunStep(ctx, o, bisect.Label(*old))
}

// stderrLog is where progress goes: live bars on a terminal, plain lines
// in a CI log.
var stderrLog = progress.NewLog(os.Stderr)
