package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	"github.com/relapse-dev/relapse/harness/vm"
)

// BenchmarkVMImages: what a first VM run pays before booting (debootstrap
// of the root filesystem, unpacking a kernel and making its initramfs and
// modules disk), against the cached lookups every later run does.
func BenchmarkVMImages(b *testing.B) {
	requireRoot(b)
	cache := b.TempDir()
	logf := func(string, ...any) {}
	spec, err := vm.ParseKernel("6.1", "")
	if err != nil {
		b.Fatal(err)
	}
	for _, phase := range []string{"cold", "warm"} {
		b.Run(phase, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ctx := context.Background()
				start := time.Now()
				if _, err := vm.BuildRootfs(ctx, cache, logf); err != nil {
					b.Fatal(err)
				}
				rootfs := time.Since(start)
				start = time.Now()
				if _, err := vm.FetchKernel(ctx, cache, spec, logf); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(rootfs.Seconds(), "s/rootfs")
				b.ReportMetric(time.Since(start).Seconds(), "s/kernel")
			}
		})
	}
}

// BenchmarkVMNode: containerd#5261 inside VM nodes with warm images: boot (or
// vagrant up) to first command, and the time to verdict of the whole run.
// qemu nodes start from a booted snapshot and send short calls through
// the agent's server; the -boot cases turn the snapshot off
// (RELAPSE_QEMU_SNAPSHOT=0) and the -ssh case the server
// (RELAPSE_AGENT_SERVER=0), so each sits beside its peer in one run.
func BenchmarkVMNode(b *testing.B) {
	requireRoot(b)
	for _, tc := range []struct {
		name, provider, kernel, setupFact string
		// off names the optimisation this case turns off, to compare
		// with the case without the suffix in the same run.
		off string
	}{
		{"qemu-6.1", "qemu", "6.1", "boot to first command", ""},
		{"qemu-6.1-boot", "qemu", "6.1", "boot to first command", "RELAPSE_QEMU_SNAPSHOT"},
		{"qemu-6.12", "qemu", "6.12", "boot to first command", ""},
		{"qemu-6.12-boot", "qemu", "6.12", "boot to first command", "RELAPSE_QEMU_SNAPSHOT"},
		{"qemu-6.12-ssh", "qemu", "6.12", "boot to first command", "RELAPSE_AGENT_SERVER"},
		{"vagrant", "vagrant", "", "vagrant up", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.off != "" {
				b.Setenv(tc.off, "0")
			}
			for i := 0; i < b.N; i++ {
				r := reproOn(b, provision.Spec{Provider: tc.provider, Kernel: tc.kernel})
				expect(b, r, report.Reproduced)
				b.ReportMetric(setupSeconds(b, r, tc.setupFact), "s/boot")
				b.ReportMetric(r.TimeToVerdict, "s/verdict")
				if len(r.Findings) > 0 {
					b.ReportMetric(r.Findings[0].Latency().Seconds(), "s/detect")
				}
			}
		})
	}
}

func reproOn(b *testing.B, node provision.Spec) *report.Report {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	plan, err := experiment.Prepare(ctx, experiment.Options{Scenario: runcpipehang.Name, Node: node,
		Versions: map[string]string{"runc": "rc93"}, ReportsDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	res, err := plan.Execute(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return res.Report
}

// setupSeconds reads a "12.3 s" fact the provider recorded.
func setupSeconds(b *testing.B, r *report.Report, name string) float64 {
	for _, f := range r.NodeSetup {
		if f.Name == name {
			v, err := strconv.ParseFloat(strings.TrimSuffix(f.Value, " s"), 64)
			if err != nil {
				b.Fatalf("%s = %q: %v", name, f.Value, err)
			}
			return v
		}
	}
	b.Fatalf("no %q in the node setup of %s", name, filepath.Base(fmt.Sprint(r.RunID)))
	return 0
}
