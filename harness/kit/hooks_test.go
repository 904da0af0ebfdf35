package kit

import (
	"errors"
	"slices"
	"testing"

	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// A bug without hooks runs its component alone and checks nothing more;
// one with hooks has the scenario ask them.
func TestHooksReachTheScenario(t *testing.T) {
	plain := &bugScenario{b: valid(), name: "runc-3952"}
	if names := plain.OptionalComponents(); len(names) != 0 || len(plain.Components()) != 1 || plain.Preconditions(scenario.Values{}) != nil ||
		plain.CheckPlan("local", scenario.Values{}, nil) != nil || plain.b.FindingDetector() != "runc-3952" {
		t.Errorf("a bug without hooks: optional %v, components %d, or a precondition, plan check or detector of its own", names, len(plain.Components()))
	}

	b := valid()
	refused := errors.New("refused")
	b.Hooks = Hooks{Optional: []versions.Builder{versions.ContainerdRecipe},
		Preconditions: func(scenario.Values) []scenario.Precondition { return []scenario.Precondition{{Name: "p"}} },
		CheckPlan:     func(string, scenario.Values, map[string]string) error { return refused },
		FindingBy:     "pipe-deadlock"}
	s := &bugScenario{b: b, name: b.Name()}
	var comps []string
	for _, c := range s.Components() {
		comps = append(comps, c.Target().Name)
	}
	if !slices.Equal(comps, []string{"runc", "containerd"}) || !scenario.IsOptional(s, "containerd") || scenario.IsOptional(s, "runc") {
		t.Errorf("components %v, containerd optional %t", comps, scenario.IsOptional(s, "containerd"))
	}
	if ps := s.Preconditions(scenario.Values{}); len(ps) != 1 || ps[0].Name != "p" {
		t.Errorf("preconditions %v", ps)
	}
	if err := s.CheckPlan("local", scenario.Values{}, nil); !errors.Is(err, refused) {
		t.Errorf("CheckPlan = %v", err)
	}
	if b.FindingDetector() != "pipe-deadlock" {
		t.Errorf("FindingDetector = %s", b.FindingDetector())
	}
}
