package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/extrasandbox"
)

// BenchmarkClusterStart: what a cluster scenario pays before its trigger,
// per provider, with warm Kubernetes builds and (after the first run)
// warm node images: the cluster's own setup steps (for kind: node image,
// dockerd, docker import, kind create, Ready, service account) and the
// time to verdict of a one-Job kubernetes#92613 run on 1.30.14.
func BenchmarkClusterStart(b *testing.B) {
	requireRoot(b)
	for _, provider := range []string{"bare", "kind"} {
		b.Run(provider, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
				plan, err := experiment.Prepare(ctx, experiment.Options{Scenario: extrasandbox.Name,
					Versions: map[string]string{"kubernetes": "1.30.14"},
					Params:   map[string]string{"cluster": provider, "jobs": "1", "settle": "5s"}, ReportsDir: b.TempDir()})
				if err != nil {
					cancel()
					b.Fatal(err)
				}
				res, err := plan.Execute(ctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				expect(b, res.Report, report.NotReproduced)
				setup := 0.0
				for _, s := range res.Report.Timeline {
					if strings.HasPrefix(s.Name, "cluster: ") || strings.HasPrefix(s.Name, "kind: ") {
						setup += s.Seconds
						b.ReportMetric(s.Seconds, "s/"+strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s.Name, "cluster: "), "kind: "), " ", "-"))
					}
				}
				b.ReportMetric(setup, "s/cluster-setup")
				b.ReportMetric(res.Report.TimeToVerdict, "s/verdict")
			}
		})
	}
}
