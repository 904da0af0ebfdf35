//go:build !relapse_lean

package kit

import (
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// kubelet is a kubelet bug's declaration Check accepts.
func kubelet() *Bug {
	b := valid()
	b.ID, b.Fix, b.Component = "kubernetes#94080", []string{"kubernetes#94115"}, "kubernetes"
	b.FirstAffected, b.LastAffected, b.FirstFixed = "", "1.19.16", "1.20.0"
	return b
}

// A kubelet bug runs on a cluster: clusterkit's builds and node checks,
// the cluster's parameters and kubelet's feature gates; a runc bug keeps
// the runc under test.
func TestKubeletBugRunsOnACluster(t *testing.T) {
	if err := Check(kubelet()); err != nil {
		t.Fatalf("Check(kubelet bug) = %v", err)
	}
	s, ok := scenarioFor(kubelet()).(*clusterScenario)
	if !ok {
		t.Fatalf("a kubelet bug runs as %T, want a cluster scenario", scenarioFor(kubelet()))
	}
	var builds []string
	for _, c := range s.Components() {
		builds = append(builds, c.Target().Name)
	}
	if got := strings.Join(builds, " "); got != "kubernetes runc containerd" {
		t.Errorf("builds %s", got)
	}
	if _, err := scenario.ResolveParams(s, map[string]string{cluster.FeatureGatesParam.Name: "ExecProbeTimeout=false", "cluster": "kind"}); err != nil {
		t.Errorf("cluster parameters refused: %v", err)
	}
	if _, err := scenario.ResolveParams(s, map[string]string{cluster.FeatureGatesParam.Name: "ExecProbeTimeout"}); err == nil {
		t.Error("a feature gate without its value accepted")
	}
	if err := s.CheckNode("vagrant"); err == nil || !strings.Contains(err.Error(), "local node or a qemu VM node") {
		t.Errorf("CheckNode(vagrant) = %v", err)
	}
	b := kubelet()
	b.Nodes = []string{"qemu"}
	if err := scenarioFor(b).(scenario.NodeRequirer).CheckNode("local"); err == nil || !strings.Contains(err.Error(), "runs on node qemu") {
		t.Errorf("a qemu-only kubelet bug on the local node: %v", err)
	}
	if _, ok := scenarioFor(valid()).(*bugScenario); !ok {
		t.Errorf("a runc bug runs as %T", scenarioFor(valid()))
	}
	// The kit names the parameter without importing the cluster.
	if FeatureGatesParam != cluster.FeatureGatesParam.Name {
		t.Errorf("kit.FeatureGatesParam %q, the cluster's parameter %q", FeatureGatesParam, cluster.FeatureGatesParam.Name)
	}
}

// A fix behind a feature gate gets a gate-off spec that must reproduce;
// only kubelet bugs have gates, and only known components are run.
func TestGateOffCase(t *testing.T) {
	b := kubelet()
	b.FixGate = "ExecProbeTimeout"
	if err := Check(b); err != nil {
		t.Fatal(err)
	}
	cs := Cases(b)
	last := cs[len(cs)-1]
	if last.Kind != GateOffCase || last.Version != "1.20.0" || last.Params[FeatureGatesParam] != "ExecProbeTimeout=false" || last.Want != report.Reproduced {
		t.Errorf("gate-off case = %+v", last)
	}
	r := valid()
	r.FixGate = "X"
	if err := Check(r); err == nil || !strings.Contains(err.Error(), "only a kubelet bug") {
		t.Errorf("a runc bug with a gate: %v", err)
	}
	r = valid()
	r.Component = "crun"
	if err := Check(r); err == nil || !strings.Contains(err.Error(), "runs bugs of runc, kubernetes") {
		t.Errorf("an unknown component: %v", err)
	}
}

func TestBugsOf(t *testing.T) {
	saved := bugs
	defer func() { bugs = saved }()
	bugs = []*Bug{valid(), kubelet()}
	if got := BugsOf("kubernetes"); len(got) != 1 || got[0].ID != "kubernetes#94080" {
		t.Errorf("BugsOf(kubernetes) = %v", got)
	}
}

// A cluster bug's reproducer says where it runs and carries the cluster's
// recipe as comments.
func TestClusterScript(t *testing.T) {
	r := &Run{intro: "Run as root on a node.\n# kind create cluster ..."}
	r.Script("kubectl apply -f p.yaml  # control")
	s := r.script(kubelet())
	for _, want := range []string{"# Run as root on a node.\n# kind create cluster ...\n", "kubectl apply -f p.yaml"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

// The gate-off canary is a nightly cell of its own, and only gate off
// counts as the fix turned off.
func TestGateOffGroupAndTurnsFixOff(t *testing.T) {
	b := kubelet()
	b.FixGate = "ExecProbeTimeout"
	gs := Groups(b)
	last := gs[len(gs)-1]
	if last.Name != "kubernetes-94080-gate-off" || last.Versions["kubernetes"][0] != "1.20.0" || last.Params[FeatureGatesParam][0] != "ExecProbeTimeout=false" {
		t.Errorf("gate-off group = %+v", last)
	}
	for v, want := range map[string]bool{"ExecProbeTimeout=false": true, "A=true, ExecProbeTimeout=0": true,
		"ExecProbeTimeout=true": false, "": false, "Other=false": false} {
		if got := b.TurnsFixOff(v); got != want {
			t.Errorf("TurnsFixOff(%q) = %t", v, got)
		}
	}
	if valid().TurnsFixOff("ExecProbeTimeout=false") {
		t.Error("a bug without a gate turned off")
	}
}

// A watch's timeline keeps the looks where something changed and the
// last one; not-Ready time and restarts come from the samples.
func TestPodWatchTimeline(t *testing.T) {
	w := PodWatch{Samples: []PodSample{
		{At: 0, Ready: true, Phase: "Running"},
		{At: time.Second, Ready: true, Phase: "Running"},
		{At: 2 * time.Second, Ready: true, Restarts: 1, Phase: "Running"},
		{At: 3 * time.Second, Ready: false, Restarts: 1, Phase: "Running"},
		{At: 4 * time.Second, Ready: false, Restarts: 1, Phase: "Running"},
	}, Failed: 1}
	if got := w.NotReady(time.Second); got != 2*time.Second {
		t.Errorf("NotReady = %s", got)
	}
	if w.Restarts() != 1 || (PodWatch{}).Restarts() != 0 {
		t.Errorf("Restarts = %d", w.Restarts())
	}
	want := "+0s     Ready=true  restarts=0 phase=Running\n+2s     Ready=true  restarts=1 phase=Running\n" +
		"+3s     Ready=false restarts=1 phase=Running\n+4s     Ready=false restarts=1 phase=Running\n(1 looks could not read the pod)\n"
	if got := w.Timeline(); got != want {
		t.Errorf("Timeline =\n%s\nwant\n%s", got, want)
	}
}

// A run whose feature gates turn the fix gate off says how (the verdict
// then expects the bug back); any other setting turns nothing off.
func TestFixTurnedOff(t *testing.T) {
	b := kubelet()
	b.FixGate = "ExecProbeTimeout"
	s := scenarioFor(b).(*clusterScenario)
	for gates, want := range map[string]string{"ExecProbeTimeout=false": "kubelet feature gate ExecProbeTimeout=false",
		"ExecProbeTimeout=true": "", "Other=false": ""} {
		if got := s.FixTurnedOff(scenario.ValuesOf(map[string]string{FeatureGatesParam: gates})); got != want {
			t.Errorf("FixTurnedOff(%q) = %q, want %q", gates, got, want)
		}
	}
	if got := s.FixTurnedOff(scenario.ValuesOf(nil)); got != "" {
		t.Errorf("no feature gates turned %q off", got)
	}
}
