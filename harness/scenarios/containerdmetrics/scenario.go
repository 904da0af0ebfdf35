package containerdmetrics

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/fixture"
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

func (Scenario) Components() []versions.Builder {
	return []versions.Builder{versions.ContainerdRecipe, versions.RuncRecipe}
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
	ctr *engine.Containerd
	dir string

	mu          sync.Mutex
	outstanding map[string]time.Time
}

func (r *metricsRun) begin(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outstanding[id] = time.Now()
}

func (r *metricsRun) end(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.outstanding, id)
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
	r := &metricsRun{env: env, dir: filepath.Join(env.Dir, "containerd"), outstanding: map[string]time.Time{}}

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
	env.Report.Reproduce = manualSteps(ctrd, runcArt, p("scrapers"), p("concurrency"), p("tasks"))
	err = env.StartEngine("containerd", r.dir, func() (engine.Managed, func(context.Context) error, error) {
		c, stop, err := engine.StartContainerd(ctx, env.Node, env.Journal, r.dir, ns,
			engine.ContainerdOptions{BinDir: ctrd.Path, Runc: runcArt.Path, Metrics: metricsAddress})
		r.ctr = c
		return c, stop, err
	})
	if err != nil {
		return report.Inconclusive, "", err
	}
	if v, err := r.ctr.Version(ctx); err == nil {
		env.Condition("containerd --version (daemon)", v)
	}
	if v, err := env.Node.Command(runcArt.Path, "--version").Output(ctx); err == nil {
		env.Condition("runc --version", strings.TrimSpace(string(v)))
	}
	env.Condition("metrics", fmt.Sprintf("http://%s/v1/metrics inside network namespace %s, %d concurrent scrape loops", metricsAddress, ns.Name, p("scrapers")))

	scraping, stopScraping := context.WithCancel(ctx)
	defer stopScraping()
	scrapes := r.scrape(scraping, p("scrapers"))

	det := &detect.ExecFifoStall{Node: env.Node, Outstanding: r.since, MinStall: minStall,
		Select: func(procs []evidence.Process) []evidence.Process {
			return detect.Matching(engine.IsRuncInit)(sandbox.ProcessesUnder(procs, r.dir))
		}}
	churn := chaos.Churn{Concurrency: p("concurrency"), Max: p("tasks"), StartTimeout: createTimeout,
		Start: func(ctx context.Context, i int) error {
			return r.startTask(ctx, fmt.Sprintf("t%d", i+1), rootfs, cgroup)
		}}
	res, finding := env.ChurnWatched(ctx, "task churn",
		fmt.Sprintf("up to %d task create+start, %d at a time, while scraping", p("tasks"), p("concurrency")), churn, det.Watch)
	stopScraping()
	scrapeStats := <-scrapes
	env.Condition("scrapes", scrapeStats)
	if ctx.Err() != nil {
		return report.Inconclusive, "interrupted: " + context.Cause(ctx).Error(), nil
	}
	if finding != nil {
		return r.confirm(ctx, finding, res)
	}
	switch {
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

// confirm takes the goroutine dump and names the two lock-holding stacks;
// only both together make the verdict.
func (r *metricsRun) confirm(ctx context.Context, f *report.Finding, res chaos.ChurnResult) (report.Result, string, error) {
	env := r.env
	env.Step(report.Step{At: f.At.UTC(), Name: "detected", Detail: f.Summary, Status: "failed"})
	env.Logf("detected: %s", f.Summary)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if procs, err := env.Node.Processes(dctx); err == nil {
		env.Evidence("engine process tree (containerd -> shim -> runc init)", sandbox.ProcessTree(procs, r.dir))
	}
	dump, err := r.ctr.GoroutineDump(dctx)
	if err != nil {
		env.Finding(*f)
		return report.Inconclusive, "runc init is parked on exec.fifo with its create outstanding, but containerd's goroutines could not be dumped: " + err.Error(), nil
	}
	env.Evidence("containerd goroutine dump (debug socket /debug/pprof/goroutine?debug=2)", dump)
	add, collect := LockStacks(dump)
	if add == "" || collect == "" {
		env.Finding(*f)
		return report.Inconclusive, "runc init is parked on exec.fifo with its create outstanding, but the goroutine dump does not show Collector.Add and Collect blocked on each other's locks", nil
	}
	env.Evidence("goroutine holding the collector lock, waiting for the namespace lock (task Create)", add)
	env.Evidence("goroutine holding the namespace lock, waiting for the collector lock (metrics scrape)", collect)
	f.Reasons = append(f.Reasons,
		"goroutine dump: (*Collector).Add (from tasks Create) blocked acquiring the go-metrics namespace lock",
		"goroutine dump: (*Collector).Collect (from a /v1/metrics scrape) blocked acquiring the collector lock")
	env.Finding(*f)
	return report.Reproduced, fmt.Sprintf("%d task creates returned, then %d hung: %s; containerd's goroutines show Collector.Add and Collect deadlocked",
		res.Started, res.Stuck, f.Summary), nil
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
