package kubernetes_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehangk8s"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// containerd#5261 https://github.com/containerd/containerd/issues/5261 as
// the seed saw it: pods with allowPrivilegeEscalation: false on a node
// whose runc is rc93 and whose soft limit is lowered (fixed by runc#2871).
var _ = Describe("containerd#5261 / runc#2871 under kubelet", suitekit.BugLabels(runcpipehang.Bug, suitekit.Slow, "k8s"), Ordered, ContinueOnFailure, func() {
	cleanClusterHost(runcpipehang.SoftLimitKey)

	run := func(ctx SpecContext, runc string, params map[string]string) *experiment.Result {
		return suitekit.Run(ctx, experiment.Options{Scenario: runcpipehangk8s.Name, Params: params,
			Versions: map[string]string{"runc": runc, "kubernetes": "1.30.14"}})
	}

	It("leaves runc init stuck under containerd's shim and the pods ContainerCreating on rc93",
		Label(suitekit.Affected), ComponentSemVerConstraint("runc", "1.0.0-rc93"), SpecTimeout(30*time.Minute), func(ctx SpecContext) {
			res := run(ctx, "rc93", map[string]string{"observe": "30s"})
			suitekit.ExpectVerdict(res, report.Reproduced)
			f := res.Report.Findings[0]
			Expect(f.Kind).To(Equal(pipewrite.Kind))
			Expect(f.Processes[0].Comm).To(Equal("runc:[2:INIT]"))
			Expect(f.Processes[0].NoNewPrivs).To(BeTrue(), "allowPrivilegeEscalation: false is no_new_privs")
		})

	It("runs the same pods on 1.1.14", Label(suitekit.Fixed), ComponentSemVerConstraint("runc", "1.1.14"), SpecTimeout(30*time.Minute), func(ctx SpecContext) {
		res := run(ctx, "1.1.14", map[string]string{"detect-timeout": "90s"})
		suitekit.ExpectVerdict(res, report.NotReproduced)
	})
})
