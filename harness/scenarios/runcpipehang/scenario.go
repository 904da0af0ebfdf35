package runcpipehang

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Name is the scenario's name on the command line.
const Name = "runc-pipe-hang"

// SoftLimitKey is the sysctl the trigger lowers.
const SoftLimitKey = "fs.pipe-user-pages-soft"

// unprivilegedPipeBytes is the capacity the kernel gives a new pipe of a
// user over the soft limit (2 pages since Linux 5.x; 1 page before).
const unprivilegedPipeBytes = 8192

// Scenario is runc#2828.
type Scenario struct{}

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string { return Name }

// Bug is exported for the suites, which label specs with it.
var Bug = report.Bug{
	ID:    "runc#2828",
	Title: "runc init hangs writing its seccomp filter into a pipe shrunk by fs.pipe-user-pages-soft",
	Summary: "runc v1.0.0-rc93 (libcontainer/seccomp/patchbpf) exports the seccomp filter into an os.Pipe " +
		"synchronously and reads it only afterwards. With noNewPrivileges the filter is loaded after " +
		"capabilities are dropped; when uid 0 is over fs.pipe-user-pages-soft the kernel gives that " +
		"unprivileged process a 2-page (8192-byte) pipe, and a larger filter blocks `runc init` forever. " +
		"The container stays 'created', the engine call never returns, and under Kubernetes PLEG stalls.",
	Links: []report.Link{
		{Title: "opencontainers/runc#2828 (report, one-line repro)", URL: "https://github.com/opencontainers/runc/issues/2828"},
		{Title: "containerd/containerd#5261 (the seed report)", URL: "https://github.com/containerd/containerd/issues/5261"},
		{Title: "opencontainers/runc#2871 (the fix)", URL: "https://github.com/opencontainers/runc/pull/2871"},
		{Title: "rancher/rke2#973 (seen at ~100 pods)", URL: "https://github.com/rancher/rke2/issues/973"},
	},
	Component: "runc",
	Affected:  ">= 1.0.0-rc93, < 1.0.0-rc94",
	Fixed:     "v1.0.0-rc94 (runc#2871 reads the pipe while libseccomp writes)",
}

func (Scenario) Bug() report.Bug { return Bug }

func (Scenario) Components() []versions.Builder { return []versions.Builder{versions.RuncRecipe} }

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		{Name: "profile", Default: fixture.ProfileLarge, Valid: scenario.OneOf(fixture.ProfileNames...),
			Help: "seccomp profile: large (compiles past 8192 bytes) or docker-default (fits; shows the trigger is not armed)"},
		{Name: "attempts", Default: "3", Valid: scenario.IntIn(1, 100),
			Help: "containers to create with the trigger armed; the run stops at the first hang"},
		{Name: "soft-limit", Default: "1", Valid: scenario.IntIn(0, 1<<30),
			Help: "value written to fs.pipe-user-pages-soft while the trigger is armed"},
		{Name: "create-timeout", Default: "20s", Valid: scenario.Duration,
			Help: "how long one runc create may take before the attempt ends unclassified"},
		{Name: "engine", Default: "runc", Valid: scenario.OneOf("runc", "docker", "containerd"),
			Help: "runc: bare runc create/start; docker: the seed's docker run loop through dockerd -> containerd -> shim -> runc; containerd: task create/start through Debian's containerd"},
		{Name: "hold", Default: "0s", Valid: scenario.NonNegativeDuration,
			Help: "keep the stuck runc init this long after detection (for strace/gdb by hand) before cleaning up"},
		{Name: "baseline", Default: "true", Valid: scenario.OneOf("true", "false"),
			Help: "first start one container without the trigger, to prove the bundle itself works"},
	}
}

// Result of one container start.
type attemptResult struct {
	record  report.Attempt
	finding *detect.Finding
	// started is true when the container's init ran and reported.
	started  bool
	pipeSize int
	failure  string
}

type run struct {
	env      *scenario.Env
	runc     *engine.Runc
	bundle   string
	timeout  time.Duration
	hold     time.Duration
	attempts int
	short    string
}

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	art, ok := env.Artifacts["runc"]
	if !ok {
		return report.Inconclusive, "", errors.New("no runc artifact")
	}
	timeout, _ := time.ParseDuration(env.Params["create-timeout"])
	attempts, _ := strconv.Atoi(env.Params["attempts"])
	hold, _ := time.ParseDuration(env.Params["hold"])
	r := &run{env: env, timeout: timeout, hold: hold, attempts: attempts, short: env.RunID[len(env.RunID)-6:]}

	binary := filepath.Join(env.Dir, "bin", "runc")
	if err := env.Node.CopyIn(ctx, art.Path, binary, 0o755); err != nil {
		return report.Inconclusive, "", fmt.Errorf("copying runc onto %s: %w", env.Node.Name(), err)
	}
	r.runc = &engine.Runc{Node: env.Node, Binary: binary, Root: filepath.Join(env.Dir, "runc-root"),
		DebugLog: filepath.Join(env.Dir, "runc-debug.log"), Record: env.Step}
	forget, err := r.runc.UseRoot(env.Journal)
	if err != nil {
		return report.Inconclusive, "", err
	}
	env.DeferCleanup("delete containers in "+r.runc.Root, func(ctx context.Context) error {
		if err := r.runc.Cleanup(ctx); err != nil {
			return err
		}
		return forget()
	})
	if v, err := r.runc.Version(ctx); err == nil {
		env.Condition("runc --version", v)
	}

	profile, err := r.prepareBundle(ctx)
	if err != nil {
		return report.Inconclusive, "", err
	}
	armed := profile.BPFBytes > unprivilegedPipeBytes
	env.Report.Reproduce = manualSteps(art, profile, env.Params["soft-limit"], env.ReportDir, env.Params["engine"])
	switch env.Params["engine"] {
	case "docker":
		eng, err := r.startDocker(ctx, profile)
		if err != nil {
			return report.Inconclusive, "", err
		}
		return r.viaEngine(ctx, eng, profile, armed)
	case "containerd":
		eng, err := r.startContainerd(ctx, profile)
		if err != nil {
			return report.Inconclusive, "", err
		}
		return r.viaEngine(ctx, eng, profile, armed)
	}

	if env.Params["baseline"] == "true" {
		base := r.attempt(ctx, 0)
		if !base.started {
			return report.Inconclusive, "the baseline container (host's own pipe limit, no trigger) did not start: " +
				base.record.Outcome + "; the bundle or this runc does not work here, so a hang would prove nothing", nil
		}
	}

	var results []*attemptResult
	if err := r.withTrigger(ctx, func() {
		for n := 1; n <= attempts && ctx.Err() == nil; n++ {
			res := r.attempt(ctx, n)
			results = append(results, res)
			if res.finding != nil {
				break
			}
		}
	}); err != nil {
		return report.Inconclusive, "", err
	}
	if ctx.Err() != nil {
		return report.Inconclusive, "interrupted: " + context.Cause(ctx).Error(), nil
	}
	return decide(results, profile, armed)
}

// withTrigger lowers the soft limit, runs fn, and puts the limit back as
// soon as fn returns (the experiment's ledger would also undo it later, on
// any exit path).
func (r *run) withTrigger(ctx context.Context, fn func()) error {
	env := r.env
	if err := (chaos.Sysctl{Key: SoftLimitKey, Value: env.Params["soft-limit"]}).Apply(ctx, env.Node, env.Journal, env.Ledger); err != nil {
		return err
	}
	env.Event("trigger armed", fmt.Sprintf("%s=%s", SoftLimitKey, env.Params["soft-limit"]))
	fn()
	if err := env.Ledger.UndoAll(context.WithoutCancel(ctx)); err != nil {
		env.Report.Errors = append(env.Report.Errors, err.Error())
	}
	env.Event("trigger disarmed", SoftLimitKey+" restored")
	return nil
}

// prepareBundle builds the init, root filesystem, profile and config.json.
func (r *run) prepareBundle(ctx context.Context) (fixture.Profile, error) {
	env := r.env
	initBin, err := fixture.BuildInit(ctx, env.CacheDir)
	if err != nil {
		return fixture.Profile{}, err
	}
	r.bundle = filepath.Join(env.Dir, "bundle")
	localBundle := filepath.Join(env.ReportDir, "bundle")
	if err := fixture.Rootfs(ctx, local.New(), filepath.Join(localBundle, "rootfs"), initBin); err != nil {
		return fixture.Profile{}, err
	}
	// The root is relative so the saved bundle works wherever it is copied.
	spec := fixture.Config("rootfs", fixture.ConfigOptions{NoNewPrivileges: true, Hostname: "relapse"})
	profile, err := fixture.LoadProfile(env.Params["profile"], spec)
	if err != nil {
		return profile, err
	}
	spec.Linux.Seccomp = profile.Seccomp
	if err := fixture.WriteBundle(localBundle, spec); err != nil {
		return profile, err
	}
	// The profile alone, as `docker run --security-opt seccomp=FILE` takes it.
	profileJSON, err := json.MarshalIndent(profile.Seccomp, "", "  ")
	if err != nil {
		return profile, err
	}
	if err := os.WriteFile(filepath.Join(env.ReportDir, "seccomp.json"), profileJSON, 0o644); err != nil {
		return profile, err
	}
	if err := env.Node.CopyIn(ctx, filepath.Join(localBundle, "config.json"), filepath.Join(r.bundle, "config.json"), 0o644); err != nil {
		return profile, err
	}
	if err := fixture.Rootfs(ctx, env.Node, filepath.Join(r.bundle, "rootfs"), initBin); err != nil {
		return profile, err
	}
	env.Report.Files = append(env.Report.Files,
		report.File{Name: "config.json", Path: "bundle/config.json", Description: "the OCI config every attempt used (seccomp profile included)"},
		report.File{Name: "init", Path: "bundle/rootfs/init", Description: "the container's static init program (fixtures/init)"},
		report.File{Name: "seccomp.json", Path: "seccomp.json", Description: "the seccomp profile alone, for docker run --security-opt seccomp=seccomp.json"})
	env.Condition("seccomp profile", profile.Description)
	env.Condition("compiled seccomp filter", fmt.Sprintf("%d bytes (%d rules, architectures %s; libseccomp %s)",
		profile.BPFBytes, profile.Rules, strings.Join(profile.Architectures, " "), env.Report.Host.Libseccomp))
	if profile.BPFBytes > unprivilegedPipeBytes {
		env.Condition("filter vs. unprivileged pipe", fmt.Sprintf("%d > %d bytes: the trigger can block the write", profile.BPFBytes, unprivilegedPipeBytes))
	} else {
		env.Condition("filter vs. unprivileged pipe", fmt.Sprintf("%d <= %d bytes: the filter fits a shrunk pipe, so runc#2828 cannot hang with this profile (Docker's default measured 7648-7864 bytes upstream)", profile.BPFBytes, unprivilegedPipeBytes))
	}
	return profile, nil
}

// attempt creates and starts one container while the detector watches its
// `runc init`. Attempt 0 is the baseline. With noNewPrivileges runc loads
// the seccomp filter only after `runc start` opened exec.fifo, so the hang
// can begin in either command: both are raced against the detector, under
// one deadline for the whole attempt.
func (r *run) attempt(ctx context.Context, n int) *attemptResult {
	env := r.env
	id := fmt.Sprintf("relapse-%s-%d", r.short, n)
	res := &attemptResult{record: report.Attempt{N: n, Container: id}}
	began := time.Now()
	defer func() {
		res.record.Seconds = time.Since(began).Seconds()
		env.Report.Attempts = append(env.Report.Attempts, res.record)
	}()
	defer func() { _ = r.runc.Delete(context.WithoutCancel(ctx), id) }()

	actx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	found := make(chan detect.Finding, 1)
	watchErr := make(chan error, 1)
	go func() {
		det := &detect.PipeDeadlock{Node: env.Node, Select: detect.Matching(r.runc.IsInitOf)}
		f, err := det.Watch(actx)
		if err == nil {
			found <- f
		}
		watchErr <- err
	}()

	output := filepath.Join(env.Dir, id+".out")
	phases := []struct {
		name, output string
		args         []string
	}{
		{"create", output, engine.CreateArgs(id, r.bundle, filepath.Join(env.Dir, id+".pid"))},
		{"start", "", []string{"start", id}},
	}
	for _, ph := range phases {
		if !r.phase(actx, ctx, res, ph.name, ph.output, ph.args, found) {
			return res
		}
	}
	if _, err := r.runc.WaitStopped(actx, id); err != nil {
		res.record.Outcome, res.failure = "container did not exit: "+err.Error(), err.Error()
		return res
	}
	cancel()
	if err := <-watchErr; err != nil && !errors.Is(err, context.Canceled) {
		res.record.Outcome, res.failure = "detector failed: "+err.Error(), err.Error()
		return res
	}
	r.readInitReport(ctx, res, output)
	return res
}

// phase runs one runc command against the detector and the attempt's
// deadline; it returns false when the attempt ends here.
func (r *run) phase(actx, ctx context.Context, res *attemptResult, name, output string, args []string, found <-chan detect.Finding) bool {
	env := r.env
	proc, err := r.runc.Begin(actx, output, args...)
	if err != nil {
		res.record.Outcome, res.failure = "runc "+name+" did not start: "+err.Error(), err.Error()
		return false
	}
	done := make(chan error, 1)
	go func() { done <- proc.Wait() }()
	select {
	case err := <-done:
		proc.Record(err)
		if err != nil {
			res.record.Outcome, res.failure = "runc "+name+" failed: "+err.Error(), err.Error()
			r.debugLogEvidence(ctx, fmt.Sprintf("runc --debug log after the failed %s (attempt %d)", name, res.record.N))
			return false
		}
		return true
	case f := <-found:
		proc.Record(fmt.Errorf("runc %s did not return: runc init deadlocked", name))
		env.Step(report.Step{At: f.At.UTC(), Name: "detected", Detail: f.Summary, Status: "failed"})
		f.Reasons = append(f.Reasons, fmt.Sprintf("`runc %s` (pid %d) has not returned: it waits on the stuck init", name, proc.PID()))
		res.finding = &f
		res.record.Outcome = fmt.Sprintf("hung in runc %s: %s", name, f.Summary)
		env.Logf("detected after %s: %s", f.Latency().Round(time.Millisecond), f.Summary)
		r.captureHang(ctx, proc.PID(), name, res.finding)
		env.Report.Findings = append(env.Report.Findings, *res.finding)
		r.holdStuck(ctx, f)
	case <-actx.Done():
		proc.Record(actx.Err())
		res.record.Outcome = fmt.Sprintf("runc %s did not finish within the attempt's %s and the detector did not classify the stall", name, r.timeout)
		res.failure = res.record.Outcome
		r.captureUnclassified(context.WithoutCancel(ctx), res.record.N)
	}
	_ = proc.Kill()
	<-done
	return false
}

// readInitReport reads what the container's init printed.
func (r *run) readInitReport(ctx context.Context, res *attemptResult, output string) {
	out, err := r.env.Node.ReadFile(ctx, output)
	if err != nil {
		res.record.Outcome, res.failure = "reading the container's output: "+err.Error(), err.Error()
		return
	}
	// runc --debug makes older inits print log failures once create has
	// returned; the init's own report is its JSON line.
	res.record.InitOutput = lastJSONLine(string(out))
	var seen struct {
		OK       bool `json:"ok"`
		PipeSize int  `json:"pipe_size"`
	}
	if err := json.Unmarshal([]byte(res.record.InitOutput), &seen); err != nil || !seen.OK {
		res.record.InitOutput = strings.TrimSpace(string(out))
		res.record.Outcome = "container ran but its init did not report"
		res.failure = res.record.Outcome
		return
	}
	res.started, res.pipeSize = true, seen.PipeSize
	res.record.Outcome = fmt.Sprintf("started and ran; a pipe made inside the container holds %d bytes", seen.PipeSize)
}

// holdStuck leaves the stuck process in place for the hold parameter, so a
// maintainer can look at it by hand; a cancelled run stops holding at once.
func (r *run) holdStuck(ctx context.Context, f detect.Finding) {
	if r.hold <= 0 || len(f.Processes) == 0 {
		return
	}
	pid := f.Processes[0].PID
	r.env.Logf("holding pid %d for %s: try  cat /proc/%d/stack; ls -l /proc/%d/fd", pid, r.hold, pid, pid)
	r.env.Event("holding the stuck process", fmt.Sprintf("pid %d for %s", pid, r.hold))
	select {
	case <-time.After(r.hold):
	case <-ctx.Done():
	}
}

func lastJSONLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "{") {
			return lines[i]
		}
	}
	return ""
}

// captureHang adds the waiting runc command and runc's own view.
func (r *run) captureHang(ctx context.Context, waiterPID int, phase string, f *detect.Finding) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if snap, err := r.env.Node.InspectProcess(ctx, waiterPID); err == nil {
		f.Processes = append(f.Processes, snap)
	}
	if list, err := r.runc.List(ctx); err == nil {
		r.env.Evidence("runc list while runc init is stuck", list)
	}
	r.debugLogEvidence(ctx, "runc --debug log of the stuck runc "+phase)
}

// captureUnclassified snapshots every process of this run's runc, so an
// unexplained stall can still be studied.
func (r *run) captureUnclassified(ctx context.Context, n int) {
	procs, err := r.env.Node.Processes(ctx)
	if err != nil {
		return
	}
	var b strings.Builder
	for _, p := range procs {
		if len(p.Cmdline) == 0 || p.Cmdline[0] != r.runc.Binary {
			continue
		}
		if snap, err := r.env.Node.InspectProcess(ctx, p.PID); err == nil {
			fmt.Fprintf(&b, "%s\n  stack: %s\n", snap.Summary(), strings.Join(snap.Stack, " <- "))
		}
	}
	r.env.Evidence(fmt.Sprintf("runc processes of this run after the deadline (attempt %d)", n), b.String())
	r.debugLogEvidence(ctx, fmt.Sprintf("runc --debug log (attempt %d)", n))
}

func (r *run) debugLogEvidence(ctx context.Context, title string) {
	data, err := r.env.Node.ReadFile(ctx, r.runc.DebugLog)
	if err != nil || len(data) == 0 {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	r.env.Evidence(title, strings.Join(lines, "\n"))
}

// decide turns the attempts into a result. Only a classified deadlock
// counts as REPRODUCED; only containers that really ran with the trigger in
// force count as NOT REPRODUCED.
func decide(results []*attemptResult, profile fixture.Profile, armed bool) (report.Result, string, error) {
	if len(results) == 0 {
		return report.Inconclusive, "no container was created with the trigger armed", nil
	}
	var ran, small, seenSize int
	var failures []string
	for _, res := range results {
		if res.finding != nil {
			return report.Reproduced, fmt.Sprintf("attempt %d of %d: %s", res.record.N, len(results), res.finding.Summary), nil
		}
		if res.started {
			ran++
			if res.pipeSize > 0 && res.pipeSize <= unprivilegedPipeBytes {
				small++
				seenSize = res.pipeSize
			}
		} else {
			failures = append(failures, fmt.Sprintf("attempt %d: %s", res.record.N, res.failure))
		}
	}
	if len(failures) > 0 {
		return report.Inconclusive, strings.Join(failures, "; "), nil
	}
	if !armed {
		return report.Inconclusive, fmt.Sprintf("the %s profile compiles to %d bytes, which fits the %d-byte pipe: the trigger was not armed, so no hang proves nothing (use profile=large)",
			profile.Name, profile.BPFBytes, unprivilegedPipeBytes), nil
	}
	if small < ran {
		return report.Inconclusive, fmt.Sprintf("only %d of %d containers saw shrunk pipes: the soft limit was not in force for them", small, ran), nil
	}
	return report.NotReproduced, fmt.Sprintf("%d of %d containers started with a %d-byte seccomp filter while their own pipes held %d bytes: runc loaded the filter without hanging",
		ran, len(results), profile.BPFBytes, seenSize), nil
}
