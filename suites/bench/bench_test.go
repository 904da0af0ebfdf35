// Package bench measures relapse itself: time to verdict with a cold and a
// warm build cache, how soon after onset the detector decides, and what the
// harness adds to each container start compared with plain `runc run`.
//
//	make bench
//
// Each benchmark runs real experiments (root needed) and reports its numbers
// as custom metrics; run with -benchtime 1x.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/containerd/oci"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	_ "github.com/relapse-dev/relapse/harness/scenarios"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
)

func requireRoot(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("benchmarks run real containers: root needed")
	}
}

func repro(b *testing.B, cacheDir, version string, params map[string]string) *experiment.Result {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	plan, err := experiment.Prepare(ctx, experiment.Options{Scenario: runcpipehang.Name,
		Versions: map[string]string{"runc": version}, Params: params,
		ReportsDir: b.TempDir(), CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	res, err := plan.Execute(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Report.Errors) > 0 {
		b.Fatalf("run recorded errors: %v", res.Report.Errors)
	}
	return res
}

func buildSeconds(r *report.Report) float64 {
	for _, c := range r.Components {
		return c.BuildSeconds
	}
	return 0
}

// BenchmarkTimeToVerdict: rc93 from an empty relapse cache and an empty Go
// build cache (module downloads excluded), then again warm.
func BenchmarkTimeToVerdict(b *testing.B) {
	requireRoot(b)
	cache := b.TempDir()
	b.Run("cold", func(b *testing.B) {
		b.Setenv("GOCACHE", filepath.Join(cache, "gocache"))
		for i := 0; i < b.N; i++ {
			r := repro(b, filepath.Join(cache, fmt.Sprint(i)), "rc93", nil).Report
			expect(b, r, report.Reproduced)
			b.ReportMetric(r.TimeToVerdict, "s/verdict")
			b.ReportMetric(buildSeconds(r), "s/build")
		}
	})
	b.Run("warm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r := repro(b, cache+"/0", "rc93", nil).Report
			expect(b, r, report.Reproduced)
			b.ReportMetric(r.TimeToVerdict, "s/verdict")
			cached := 0.0
			if r.Components[0].Cached {
				cached = 1
			}
			b.ReportMetric(cached, "cache-hits")
		}
	})
}

// BenchmarkDetectionLatency: from the onset (bounded by the detector's last
// sample that saw the init not yet blocked) to the decision, over several
// runs; and from the init's start, the figure measured before that bound.
func BenchmarkDetectionLatency(b *testing.B) {
	requireRoot(b)
	var total, worst, fromStart time.Duration
	const runs = 5
	for i := 0; i < b.N*runs; i++ {
		r := repro(b, "", "rc93", map[string]string{"baseline": "false"}).Report
		expect(b, r, report.Reproduced)
		f := r.Findings[0]
		l := f.Latency()
		total += l
		worst = max(worst, l)
		// From the init's start, as this benchmark measured before the
		// detector bounded the onset by its last clear sample.
		fromStart += f.At.Sub(f.Processes[0].Started)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N*runs), "ms/detect-mean")
	b.ReportMetric(float64(worst.Milliseconds()), "ms/detect-max")
	b.ReportMetric(float64(fromStart.Milliseconds())/float64(b.N*runs), "ms/detect-from-init-start")
}

// BenchmarkMakeReproWarm: what a person waits for `make repro RUNC=rc93`
// with everything built: make's checks, relapse, the experiment, the report.
func BenchmarkMakeReproWarm(b *testing.B) {
	requireRoot(b)
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	reports := b.TempDir()
	repro := func() time.Duration {
		start := time.Now()
		cmd := exec.Command("make", "-s", "repro", "RUNC=rc93", "REPORTS="+reports)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("make repro: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	repro() // builds and fills the caches if this is the first run
	var total time.Duration
	const runs = 3
	for i := 0; i < b.N*runs; i++ {
		total += repro()
	}
	b.ReportMetric(total.Seconds()/float64(b.N*runs), "s/make-repro-wall")
}

// BenchmarkStartOverhead: seconds per container through relapse (create,
// start, wait, delete, with the detector sampling) against plain `runc run`
// of the same bundle with the same runc, in the same run.
func BenchmarkStartOverhead(b *testing.B) {
	requireRoot(b)
	const starts = 10
	res := repro(b, "", "rc94", map[string]string{"attempts": fmt.Sprint(starts), "soft-limit": "16384"})
	if len(res.Report.Attempts) != starts+1 {
		b.Fatalf("want a baseline and %d attempts, got %d: %s", starts, len(res.Report.Attempts), res.Report.Verdict.Reason)
	}
	var harness float64
	for _, a := range res.Report.Attempts[1:] {
		harness += a.Seconds
	}
	harness /= float64(len(res.Report.Attempts) - 1)

	runcBin := res.Report.Components[0].Path
	bundle := filepath.Join(res.Paths.Dir, "bundle")
	state := filepath.Join(b.TempDir(), "state")
	start := time.Now()
	for i := 0; i < starts; i++ {
		id := fmt.Sprintf("relapse-bench-%d", i)
		if out, err := exec.Command(runcBin, "--root", state, "run", "--bundle", bundle, id).CombinedOutput(); err != nil {
			b.Fatalf("plain runc run: %v\n%s", err, out)
		}
		if out, err := exec.Command(runcBin, "--root", state, "delete", "--force", id).CombinedOutput(); err != nil {
			b.Fatalf("plain runc delete: %v\n%s", err, out)
		}
	}
	plain := time.Since(start).Seconds() / starts
	b.ReportMetric(harness, "s/start-relapse")
	b.ReportMetric(plain, "s/start-plain-runc")
	b.ReportMetric(harness/plain, "x-overhead")
}

func expect(b *testing.B, r *report.Report, want report.Result) {
	b.Helper()
	if r.Verdict.Result != want {
		b.Fatalf("verdict %s, want %s: %s", r.Verdict.Result, want, r.Verdict.Reason)
	}
}

// compareChurn runs n sequential starts through relapse's churn driver and
// n through the engine's own CLI, and reports both rates and their ratio.
func compareChurn(b *testing.B, ctx context.Context, n int, tool string,
	viaRelapse func(ctx context.Context, i int) error, viaTool func(ctx context.Context, i int) *exec.Cmd) {
	b.Helper()
	res := chaos.Churn{Concurrency: 1, Max: n, StartTimeout: 30 * time.Second, Start: viaRelapse}.Run(ctx, nil)
	if res.Started != n {
		b.Fatalf("churn: %s; %v", res.Summary(), res.Errors)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if out, err := viaTool(ctx, i).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", tool, err, out)
		}
	}
	toolRate := float64(n) / time.Since(start).Seconds()
	b.ReportMetric(res.Rate(), "starts/s-relapse")
	b.ReportMetric(toolRate, "starts/s-"+tool)
	b.ReportMetric(toolRate/res.Rate(), "x-overhead")
	b.ReportMetric(float64(res.Percentile(95).Milliseconds()), "ms/start-p95")
}

// BenchmarkDockerChurn: sequential starts per second through relapse's
// churn driver and Go client against `docker run -d` of the docker CLI, on
// the same relapse-run dockerd with the same runc, in the same run.
func BenchmarkDockerChurn(b *testing.B) {
	requireRoot(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dk, ref, cleanup := startBenchDocker(b, ctx)
	defer cleanup()
	cli := os.Getenv("DOCKER_CLI")
	if cli == "" {
		cli = "docker"
	}
	compareChurn(b, ctx, 20, "docker-cli",
		func(ctx context.Context, i int) error {
			_, err := dk.Run(ctx, fmt.Sprintf("churn-%d", i), ref, []string{"no-new-privileges"})
			return err
		},
		func(ctx context.Context, i int) *exec.Cmd {
			return exec.CommandContext(ctx, cli, "--host", "unix://"+dk.Socket, "run", "-d", "--network", "none",
				"--security-opt", "no-new-privileges", "--name", fmt.Sprintf("cli-%d", i), ref)
		})
}

// BenchmarkContainerdChurn: starts per second through relapse's churn
// driver and the containerd Go client against `ctr run -d` on the same
// containerd (Debian's) with the same runc, in the same run.
func BenchmarkContainerdChurn(b *testing.B) {
	requireRoot(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, h, cleanup := startBenchContainerd(b, ctx)
	defer cleanup()
	compareChurn(b, ctx, 20, "ctr",
		func(ctx context.Context, i int) error {
			id := fmt.Sprintf("churn-%d", i)
			ctr, err := c.NewContainer(ctx, id, h.rootfs, oci.WithProcessArgs("/init", "sleep=600"),
				oci.WithCgroup("/"+h.cgroup+"/"+id))
			if err != nil {
				return err
			}
			_, err = c.Start(ctx, ctr, filepath.Join(h.Dir, id+".log"))
			return err
		},
		func(ctx context.Context, i int) *exec.Cmd {
			id := fmt.Sprintf("ctr-%d", i)
			return exec.CommandContext(ctx, "/usr/bin/ctr", "--address", c.Socket, "--namespace", daemons.ContainerdNamespace,
				"run", "-d", "--null-io", "--runc-binary", h.runc, "--cgroup", "/"+h.cgroup+"/"+id,
				"--rootfs", h.rootfs, id, "/init", "sleep=600")
		})
}
