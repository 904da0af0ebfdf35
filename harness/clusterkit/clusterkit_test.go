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
