package kit

import (
	"context"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/versions"
)

// withEngine registers a test engine for component "testd" for the test.
func withEngine(t *testing.T) *Engine {
	t.Helper()
	e := &Engine{Component: "testd", Recipe: versions.ContainerdRecipe, Offers: []string{"cri"},
		Defaults: map[string]string{"runc": "1.1.12"},
		Start:    func(context.Context, *Run) (any, error) { return nil, nil }}
	RegisterEngine(e)
	t.Cleanup(func() { delete(engines, "testd") })
	return e
}

// A bug names a registered engine's component and only what it offers.
func TestCheckComponentAndNeeds(t *testing.T) {
	b := valid()
	b.Component = "testd"
	if err := Check(b); err == nil || !strings.Contains(err.Error(), `field Component "testd": the kit runs bugs of runc`) {
		t.Errorf("Check with an unregistered engine = %v, want the components it runs", err)
	}
	withEngine(t)
	if err := Check(b); err != nil {
		t.Errorf("Check with the engine registered = %v", err)
	}
	b.Needs = []string{"cri", "gpu"}
	if err := Check(b); err == nil || !strings.Contains(err.Error(), `field Needs "gpu": the testd engine offers cri`) {
		t.Errorf("Check with a need the engine lacks = %v", err)
	}
	b.Component, b.Needs = "runc", []string{"cri"}
	if err := Check(b); err == nil || !strings.Contains(err.Error(), "offers nothing beyond its daemon") {
		t.Errorf("Check of a runc bug with a need = %v", err)
	}
}

// An engine's bug builds the engine's component and runc, runs with the
// engine's default runc unless it pins another, and says which versions
// it supports.
func TestEngineScenario(t *testing.T) {
	e := withEngine(t)
	b := valid()
	b.Component = "testd"
	s := &engineScenario{bugScenario: &bugScenario{b: b, name: b.Name()}, e: e}
	var names []string
	for _, c := range s.Components() {
		names = append(names, c.Target().Name)
	}
	if strings.Join(names, " ") != "containerd runc" {
		t.Errorf("components %v, want the engine's recipe and runc", names)
	}
	if got := s.DefaultVersions()["runc"]; got != "1.1.12" {
		t.Errorf("default runc %q, want the engine's 1.1.12", got)
	}
	b.Pins = map[string]string{"runc": "1.1.14"}
	if got := s.DefaultVersions()["runc"]; got != "1.1.14" {
		t.Errorf("default runc %q, want the bug's pin 1.1.14", got)
	}
	if e.Defaults["runc"] != "1.1.12" {
		t.Error("a bug's pin changed the engine's defaults")
	}
}
