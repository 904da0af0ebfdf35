package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/containerdmetrics"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
)

// withNoise keeps every core busy with CPU load and one disk with I/O load
// (stress-ng, Debian) until the benchmark ends.
func withNoise(b *testing.B) {
	b.Helper()
	if _, err := exec.LookPath("stress-ng"); err != nil {
		b.Skip("stress-ng is needed for load: apt-get install stress-ng (make test-noisy installs it)")
	}
	dir := b.TempDir()
	cmd := exec.Command("stress-ng", "--cpu", "0", "--cpu-load", "100", "--hdd", "1", "--hdd-bytes", "64M", "--temp-path", dir, "--timeout", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	time.Sleep(2 * time.Second)
}

// falseAlarms runs a scenario on a fixed version n times under load and
// counts what is not the right NOT REPRODUCED: a REPRODUCED is a false
// alarm, an INCONCLUSIVE a verdict the load took away. The bar is 0 and 0.
func falseAlarms(b *testing.B, scenario string, versions map[string]string, params map[string]string, n int) {
	withNoise(b)
	var wrong, undecided int
	var seconds float64
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		plan, err := experiment.Prepare(ctx, experiment.Options{Scenario: scenario, Versions: versions, Params: params, ReportsDir: b.TempDir()})
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		res, err := plan.Execute(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		v := res.Report.Verdict
		seconds += res.Report.TimeToVerdict
		switch v.Result {
		case report.Reproduced:
			wrong++
			b.Logf("run %d: FALSE ALARM %s: %s (%s)", i+1, v.Result, v.Reason, res.Paths.HTML)
		case report.Inconclusive:
			undecided++
			b.Logf("run %d: %s: %s (%s)", i+1, v.Result, v.Reason, res.Paths.HTML)
		}
	}
	b.ReportMetric(float64(wrong), "reproduced")
	b.ReportMetric(float64(undecided), "inconclusive")
	b.ReportMetric(float64(n), "runs")
	b.ReportMetric(seconds/float64(n), "s/run")
	if wrong > 0 || undecided > 0 {
		b.Errorf("under load %s gave %d REPRODUCED and %d INCONCLUSIVE in %d runs; the bar is 0 and 0", fmt.Sprint(versions), wrong, undecided, n)
	}
}

// BenchmarkFalseAlarmsUnderLoad: the fixed versions, 20 runs each, with
// both cores saturated: runc rc94 (the rc93 hang's fix) and containerd
// 1.6.3 (containerd#6772's fix, at the suite's load of 150 tasks).
func BenchmarkFalseAlarmsUnderLoad(b *testing.B) {
	requireRoot(b)
	// RELAPSE_BENCH_RUNS lowers the count for a quick look.
	runs := envInt("RELAPSE_BENCH_RUNS", 20)
	b.Run("runc-rc94", func(b *testing.B) {
		falseAlarms(b, runcpipehang.Name, map[string]string{"runc": "rc94"}, nil, runs)
	})
	b.Run("containerd-1.6.3", func(b *testing.B) {
		falseAlarms(b, containerdmetrics.Name, map[string]string{"containerd": "1.6.3"}, map[string]string{"tasks": "150"}, runs)
	})
}

// envInt reads a number from the environment, def when unset or bad.
func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return def
	}
	return n
}
