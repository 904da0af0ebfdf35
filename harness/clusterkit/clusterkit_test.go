package clusterkit

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/scenario"
)

// TestCheckPlanRefusesWhatAVMCannotRun: kind and dockershim are local-only,
// and every refusal says what would work.
func TestCheckPlanRefusesWhatAVMCannotRun(t *testing.T) {
	var s ScenarioBase
	cases := []struct {
		provider string
		params   map[string]string
		version  string
		want     string // "" = accepted
	}{
		{"qemu", map[string]string{"cluster": "bare", "runtime": "containerd"}, "v1.30.14", ""},
		{"local", map[string]string{"cluster": "kind", "runtime": "containerd"}, "v1.30.14", ""},
		{"qemu", map[string]string{"cluster": "kind", "runtime": "containerd"}, "v1.30.14", "use cluster=bare"},
		{"qemu", map[string]string{"cluster": "bare", "runtime": "dockershim"}, "v1.19.3", "use runtime=containerd"},
		{"local", map[string]string{"cluster": "bare", "runtime": "dockershim"}, "v1.30.14", "KUBERNETES=1.19.3"},
		// Scenarios without a runtime parameter (runc-pipe-hang-k8s,
		// pleg-not-healthy) run on containerd.
		{"qemu", map[string]string{"cluster": "bare"}, "v1.30.14", ""},
		{"local", map[string]string{"cluster": "kind"}, "v1.30.14", ""},
		{"local", map[string]string{"cluster": "kind"}, "v1.37.2", "etcd 3.4.23, which refuses it"},
		{"local", map[string]string{"cluster": "bare"}, "v1.37.2", ""},
	}
	for _, c := range cases {
		err := s.CheckPlan(c.provider, scenario.ValuesOf(c.params), map[string]string{"kubernetes": c.version})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %v: refused: %v", c.provider, c.params, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %v: err = %v, want one saying %q", c.provider, c.params, err, c.want)
		}
	}
	if err := s.CheckNode("vagrant"); err == nil || !strings.Contains(err.Error(), "PROVIDER=local or qemu") {
		t.Errorf("CheckNode(vagrant) = %v", err)
	}
}

// TestContainerdFollowsKubernetes: a cluster gets containerd 2.x (latest)
// with today's Kubernetes, Debian's 1.6.20 with the releases before 1.35,
// and only the containerd default depends on anything.
func TestContainerdFollowsKubernetes(t *testing.T) {
	var s ScenarioBase
	for kube, want := range map[string]string{"v1.19.3": "1.6.20", "v1.30.14": "1.6.20", "v1.34.9": "1.6.20",
		"v1.35.4": "latest", "v1.37.2": "latest", "latest": "latest", "maintained": "latest", "latest-1.36": "latest",
		"git:/src/kubernetes@master": "latest", "": "latest"} {
		got, ok := s.DefaultVersionFor("containerd", map[string]string{"kubernetes": kube})
		if !ok || got != want {
			t.Errorf("kubernetes %q: containerd default %q %v, want %q", kube, got, ok, want)
		}
	}
	if v, ok := s.DefaultVersionFor("runc", map[string]string{"kubernetes": "v1.37.2"}); ok {
		t.Errorf("runc default %q: only containerd follows Kubernetes", v)
	}
}

// TestCheckPlanRefusesStacksWithoutACommonCRI: kubelet and containerd
// must share a CRI version; selectors pass (known only once resolved).
func TestCheckPlanRefusesStacksWithoutACommonCRI(t *testing.T) {
	var s ScenarioBase
	params := scenario.ValuesOf(map[string]string{"cluster": "bare", "runtime": "containerd"})
	for _, c := range []struct{ kube, containerd, want string }{
		{"v1.19.3", "v2.4.2", "CONTAINERD=1.6.20"},
		{"v1.22.17", "v2.0.0", "KUBERNETES=1.23 or newer"},
		{"v1.30.14", "v1.5.18", "containerd serves from 1.6"},
		{"v1.19.3", "v1.6.20", ""},
		{"v1.23.0", "v2.4.2", ""},
		{"v1.37.2", "v2.4.2", ""},
		{"v1.37.2", "v1.7.30", ""},
		{"latest", "v1.5.18", ""},
		{"v1.19.3", "latest", ""},
	} {
		err := s.CheckPlan("local", params, map[string]string{"kubernetes": c.kube, "containerd": c.containerd})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("kubernetes %s, containerd %s: refused: %v", c.kube, c.containerd, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("kubernetes %s, containerd %s: err = %v, want one saying %q", c.kube, c.containerd, err, c.want)
		}
	}
}

// Every cluster provider is offered by the cluster parameter.
func TestProviderParamListsProviders(t *testing.T) {
	for _, name := range []string{"bare", "kind"} {
		if err := ProviderParam.Valid(name); err != nil {
			t.Errorf("cluster=%s refused: %v", name, err)
		}
	}
	if err := ProviderParam.Valid("minikube"); err == nil || !strings.Contains(err.Error(), "bare, kind") {
		t.Errorf("cluster=minikube: %v", err)
	}
}
