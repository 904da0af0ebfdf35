package containerdmetrics

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/measure"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Name is the scenario's name on the command line.
const Name = "containerd-metrics-deadlock"

// metricsAddress is inside the daemon's own network namespace.
const metricsAddress = "127.0.0.1:1338"

// Scenario is containerd#6772.
type Scenario struct{}

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string { return Name }

// Bug is exported for the suites.
var Bug = report.Bug{
	ID:    "containerd#6772",
	Fix:   "containerd#6801",
	Title: "containerd 1.6.0-1.6.2 deadlocks between task Create and a metrics scrape; runc init waits forever on exec.fifo",
	Summary: "tasks.Create runs `runc create` (the init then blocks on exec.fifo until `runc start`) and registers the task " +
		"with the cgroups metrics collector: Collector.Add takes the collector lock, then the go-metrics namespace lock; " +
		"a concurrent /v1/metrics scrape takes them in the opposite order. Create never returns, Start never happens, " +
		"and under Kubernetes kubelet retries leave a new stuck `runc init` every ~2 minutes.",
	Links: []report.Link{
		{Title: "containerd/containerd#6772: containers stuck terminating / creating - many `runc init` processes", URL: "https://github.com/containerd/containerd/issues/6772"},
		{Title: "opencontainers/runc#3448: runc init hanging on openat() (first reported there)", URL: "https://github.com/opencontainers/runc/issues/3448"},
		{Title: "containerd/containerd#6801: [release/1.6] metrics/cgroups: fix deadlock issue in Add during Collect (the fix, v1.6.3)", URL: "https://github.com/containerd/containerd/pull/6801"},
		{Title: "containerd/containerd#6788: metrics/cgroups: fix deadlock issue in Add during Collect (the fix on main, v1.7.0)", URL: "https://github.com/containerd/containerd/pull/6788"},
		{Title: "containerd/containerd#5744: Add runtime label to metrics (introduced it, v1.6.0)", URL: "https://github.com/containerd/containerd/pull/5744"},
	},
	Component:  "containerd",
	Affected:   ">= 1.6.0, < 1.6.3",
	Introduced: "v1.6.0 (containerd#5744 made Collector.Add take the go-metrics namespace lock under the collector's)",
	Fixed:      "v1.6.3 (containerd#6801)",
}

func (Scenario) Bug() report.Bug { return Bug }

// ruleOut is the per-repetition reproduction rate a NOT REPRODUCED verdict
// must exclude: the Wilson 95% lower bound of the rate measured on 1.6.2
// with the default load (see Sampling).
const ruleOut = 0.7

// Sampling: the deadlock is a race between a task Create and a scrape; one
// repetition is one containerd under the default load.
func (Scenario) Sampling() report.Sampling {
	return report.Sampling{RuleOut: ruleOut,
		Why:   "containerd 1.6.2 deadlocked in 10 of 10 repetitions with 200 task creates under 4 scrape loops here (Wilson 95% lower bound 0.72)",
		Fresh: "a fresh containerd with its own root and scrapers, and up to 200 task creates (~15 s to a deadlock, ~60-120 s without one)"}
}

func (Scenario) Components() []versions.Builder {
	return []versions.Builder{versions.ContainerdRecipe, versions.RuncRecipe}
}

// Supports: what relapse can build; the metrics endpoint, the debug
// socket's goroutine dump and the runc v2 shim are in every containerd
// from 1.5 on, 2.x included.
func (Scenario) Supports() []scenario.Support {
	return []scenario.Support{scenario.ContainerdBuildable, scenario.RuncBuildable}
}

// DefaultVersions: runc 1.1.1 unless told otherwise, the runc containerd
// v1.6.3 pins in script/setup/runc-version (v1.6.0-v1.6.2 pinned v1.1.0).
func (Scenario) DefaultVersions() map[string]string { return map[string]string{"runc": "1.1.1"} }

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		scenario.IntParam("tasks", 200, 1, 2000, "bound: task creations before the run ends NOT REPRODUCED"),
		scenario.IntParam("concurrency", 8, 1, 64, "task creations in flight"),
		scenario.IntParam("scrapers", 4, 0, 32, "concurrent /v1/metrics scrape loops (measured: 2 or more are needed; 1 almost never deadlocks)"),
		scenario.DurationParam("create-timeout", "20s", false, "bound on one task create+start"),
		scenario.DurationParam("min-stall", "5s", false, "how long a create must be outstanding with its init parked on exec.fifo before it is the bug"),
	}
}

// metricsRun is one run of the scenario.
type metricsRun struct {
	env *scenario.Env
	ctr *daemons.Containerd
	dir string

	mu          sync.Mutex
	outstanding map[string]time.Time
	// creates are the durations of task creates that returned.
	creates measure.Latencies
	// slow are candidates the goroutine dump did not confirm: slow creates.
	slow map[string]string
}

func (r *metricsRun) begin(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outstanding[id] = time.Now()
}

func (r *metricsRun) end(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if began, ok := r.outstanding[id]; ok {
		r.creates.Add(time.Since(began))
	}
	delete(r.outstanding, id)
}

func (r *metricsRun) skip(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, seen := r.slow[id]
	return seen
}

func (r *metricsRun) since(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.outstanding[id]
	return t, ok
}

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	p := env.Params.Int
	createTimeout := env.Params.Duration("create-timeout")
	minStall := env.Params.Duration("min-stall")
	r := &metricsRun{env: env, dir: filepath.Join(env.Dir, "containerd"), outstanding: map[string]time.Time{}, slow: map[string]string{}}

	rootfs, err := r.prepareRootfs(ctx)
	if err != nil {
		return report.Inconclusive, "", err
	}
	sb, err := sandbox.New(ctx, env.Run, "")
	if err != nil {
		return report.Inconclusive, "", err
	}
	ns, cgroup := sb.Netns, sb.Cgroup

	ctrd, runcArt := env.Artifacts["containerd"], env.Artifacts["runc"]
	configVersion, err := daemons.ContainerdConfigVersion(ctx, env.Node, ctrd.Path)
	if err != nil {
		return report.Inconclusive, "", err
	}
	if env.Report.Reproduce, err = manualSteps(ctrd, runcArt, configVersion, p("scrapers"), p("concurrency"), p("tasks")); err != nil {
		return report.Inconclusive, "", err
	}
	err = env.StartEngine("containerd", r.dir, func() (engine.Managed, func(context.Context) error, error) {
		c, stop, err := daemons.StartContainerd(ctx, env.Node, env.Journal, r.dir, ns,
			daemons.ContainerdOptions{BinDir: ctrd.Path, Runc: runcArt.Path, Metrics: metricsAddress, ConfigVersion: configVersion})
		r.ctr = c
		return c, stop, err
	})
	if err != nil {
		return report.Inconclusive, "", err
	}
	if v, err := r.ctr.Version(ctx); err == nil {
		env.Stack("containerd (the build under test, as it reports itself)", v)
	}
	env.Condition("containerd config", r.ctr.ConfigReport(ctx))
	if v, err := env.Node.Command(runcArt.Path, "--version").Output(ctx); err == nil {
		env.Stack("runc (under containerd)", strings.ReplaceAll(strings.TrimSpace(string(v)), "\n", "; "))
	}
	env.Condition("metrics", fmt.Sprintf("http://%s/v1/metrics inside network namespace %s, %d concurrent scrape loops", metricsAddress, ns.Name, p("scrapers")))

	scraping, stopScraping := context.WithCancel(ctx)
	defer stopScraping()
	scrapes := r.scrape(scraping, p("scrapers"))

	// A candidate is a create outstanding for minStall, or for four times
	// the run's own 99th-percentile create once creates were measured: on a
	// loaded machine creates take seconds. Only the goroutine dump makes it
	// the bug (watch).
	det := &detect.ExecFifoStall{Node: env.Node, Outstanding: r.since, Skip: r.skip,
		Threshold: func() time.Duration { return r.creates.Scaled(minStall, 4) },
		Select: func(procs []evidence.Process) []evidence.Process {
			return evidence.Matching(evidence.IsRuncInit)(evidence.ProcessesUnder(procs, r.dir))
		}}
	churn := chaos.Churn{Concurrency: p("concurrency"), Max: p("tasks"), StartTimeout: createTimeout,
		Start: func(ctx context.Context, i int) error {
			return r.startTask(ctx, fmt.Sprintf("t%d", i+1), rootfs, cgroup)
		}}
	res, finding := env.ChurnWatched(ctx, "task churn",
		fmt.Sprintf("up to %d task create+start, %d at a time, while scraping", p("tasks"), p("concurrency")), churn, r.watch(det))
	stopScraping()
	scrapeStats := <-scrapes
	// The tasks still run: the first one shows which runtime and shim ran
	// them (bounded: a deadlocked containerd may not answer).
	lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if c, err := r.ctr.Client.LoadContainer(lctx, "t1"); err == nil {
		env.Condition("containerd runtime", r.ctr.RuntimeReport(lctx, c))
	}
	lcancel()
	env.Condition("scrapes", scrapeStats)
	env.Condition("task create latency", fmt.Sprintf("p50 %s, p99 %s over %d creates; a create became a candidate after %s",
		r.creates.Percentile(50).Round(time.Millisecond), r.creates.Percentile(99).Round(time.Millisecond), r.creates.Count(),
		r.creates.Scaled(minStall, 4).Round(time.Millisecond)))
	r.recordSlow()
	if finding != nil {
		return report.Reproduced, fmt.Sprintf("%d task creates returned, then %d hung: %s", res.Started, res.Stuck, finding.Summary), nil
	}
	switch {
	case ctx.Err() != nil:
		return report.Inconclusive, "interrupted during the churn", nil
	case res.Stuck > 0:
		return report.Inconclusive, "a task create did not return but its init was not found parked on exec.fifo: " + res.StoppedBy, nil
	case res.Failed > 0:
		return report.Inconclusive, fmt.Sprintf("%d task creations failed: %s", res.Failed, res.Errors[0]), nil
	}
	return report.NotReproduced, fmt.Sprintf("%d tasks created and started (%.1f/s), none stalled, while %d loops scraped /v1/metrics: %s",
		res.Started, res.Rate(), p("scrapers"), scrapeStats), nil
}

// prepareRootfs builds the init fixture into a rootfs on the node.
func (r *metricsRun) prepareRootfs(ctx context.Context) (string, error) {
	initBin, err := fixture.BuildInit(ctx, r.env.CacheDir)
	if err != nil {
		return "", err
	}
	rootfs := filepath.Join(r.env.Dir, "rootfs")
	return rootfs, fixture.Rootfs(ctx, r.env.Node, rootfs, initBin)
}

// startTask creates and starts one long-running task, marking its create
// as outstanding until it returns.
func (r *metricsRun) startTask(ctx context.Context, id, rootfs, cgroup string) error {
	c, err := r.ctr.NewContainer(ctx, id, rootfs, oci.WithProcessArgs("/init", "sleep=3600"),
		oci.WithCgroup("/"+cgroup+"/"+id))
	if err != nil {
		return err
	}
	r.begin(id)
	task, err := c.NewTask(ctx, cio.NullIO)
	r.end(id)
	if err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	return task.Start(ctx)
}

// scrape runs n loops on /v1/metrics until ctx ends and reports counts.
func (r *metricsRun) scrape(ctx context.Context, n int) <-chan string {
	out := make(chan string, 1)
	var ok, failed, slow int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	hc := r.ctr.MetricsClient()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				start := time.Now()
				err := r.ctr.ScrapeMetrics(sctx, hc)
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case ctx.Err() == nil:
					failed++
					if time.Since(start) >= 5*time.Second {
						slow++
					}
				}
				mu.Unlock()
			}
		}()
	}
	go func() {
		wg.Wait()
		out <- fmt.Sprintf("%d scrapes answered, %d failed (%d of them timed out after 5s)", ok, failed, slow)
	}()
	return out
}

// watch races the churn: a candidate from the exec.fifo detector is
// confirmed with containerd's goroutine dump. A candidate the dump does not
// confirm is a slow create, recorded, and the watch goes on.
func (r *metricsRun) watch(det *detect.ExecFifoStall) func(context.Context) (report.Finding, error) {
	return func(ctx context.Context) (report.Finding, error) {
		for {
			f, err := det.Watch(ctx)
			if err != nil {
				return f, err
			}
			container, confirmed := r.confirm(ctx, &f)
			if confirmed {
				return f, nil
			}
			r.mu.Lock()
			r.slow[container] = f.Summary
			r.mu.Unlock()
		}
	}
}

// recordSlow lists the candidates that were slow creates, not the bug.
func (r *metricsRun) recordSlow() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.slow) == 0 {
		return
	}
	var lines []string
	for id, why := range r.slow {
		lines = append(lines, id+": "+why)
	}
	sort.Strings(lines)
	r.env.Condition("slow task creates (not the bug)", fmt.Sprintf("%d create(s) outstanding past the threshold whose goroutine dump showed no deadlock: they returned later", len(lines)))
	r.env.Evidence("slow task creates the goroutine dump did not confirm", strings.Join(lines, "\n"))
}

// confirm takes the goroutine dump and names the two lock-holding stacks;
// only both together make the finding. It returns the candidate's
// container and whether it was confirmed.
func (r *metricsRun) confirm(ctx context.Context, f *report.Finding) (string, bool) {
	env := r.env
	container := f.Processes[0].Comm
	if c := detect.ClassifyFifoPark(f.Processes[0]); c.Container != "" {
		container = c.Container
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	dump, err := r.ctr.GoroutineDump(dctx)
	if err != nil {
		env.Error("a create outstanding past the threshold, but containerd's goroutines could not be dumped: " + err.Error())
		return container, false
	}
	add, collect := LockStacks(dump)
	if add == "" || collect == "" {
		return container, false
	}
	env.Step(report.Step{At: f.At.UTC(), Name: "detected", Detail: f.Summary, Status: "failed"})
	env.Logf("detected: %s", f.Summary)
	if procs, err := env.Node.Processes(dctx); err == nil {
		env.Evidence("engine process tree (containerd -> shim -> runc init)", sandbox.ProcessTree(procs, r.dir))
	}
	// The whole dump (a thousand goroutines under load) goes into a file;
	// the page shows it grouped by stack, the lock waiters first.
	const dumpFile = "containerd-goroutines.txt"
	if err := env.SaveFile(dumpFile, "containerd's goroutine dump when the create was caught (debug socket /debug/pprof/goroutine?debug=2)", []byte(dump)); err != nil {
		env.Error(err.Error())
	}
	env.Evidence("containerd goroutines grouped by stack (the full dump: "+dumpFile+")", evidence.SummarizeGoroutines(dump, 25))
	env.Evidence("goroutine holding the collector lock, waiting for the namespace lock (task Create)", add)
	env.Evidence("goroutine holding the namespace lock, waiting for the collector lock (metrics scrape)", collect)
	f.Summary += "; containerd's goroutines show Collector.Add and Collect deadlocked"
	f.Reasons = append(f.Reasons,
		"goroutine dump: (*Collector).Add (from tasks Create) blocked acquiring the go-metrics namespace lock",
		"goroutine dump: (*Collector).Collect (from a /v1/metrics scrape) blocked acquiring the collector lock",
		"with both locks held by goroutines waiting on each other, the create can never return: nothing will open the fifo")
	env.Finding(*f)
	return container, true
}

// LockStacks picks from a goroutine dump the Create-side goroutine (in
// Collector.Add, waiting in go-metrics' Namespace) and the scrape-side one
// (in Collector.Collect, waiting for the collector's lock).
func LockStacks(dump string) (add, collect string) {
	for _, g := range strings.Split(dump, "\n\n") {
		blocked := strings.Contains(g, "sync.(*Mutex).Lock") || strings.Contains(g, "sync.(*RWMutex).RLock") ||
			strings.Contains(g, "sync.(*RWMutex).Lock") || strings.Contains(g, "semacquire")
		if !blocked {
			continue
		}
		switch {
		case add == "" && strings.Contains(g, "(*Collector).Add") && strings.Contains(g, "go-metrics") && strings.Contains(g, "(*local).Create"):
			add = g
		case collect == "" && strings.Contains(g, "(*Collector).Collect") && strings.Contains(g, "Gather"):
			collect = g
		}
	}
	return add, collect
}
