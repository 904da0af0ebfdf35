package layers

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// imports lists, for every package of the module, the module packages its
// non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, Module+"...").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v (an import cycle is an upward import too)\n%s", err, stderr)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, Module) {
				m[f[0]] = append(m[f[0]], imp)
			}
		}
		if _, ok := m[f[0]]; !ok {
			m[f[0]] = nil
		}
	}
	return m
}

// Violations lists the imports that go up a layer, and the packages in no
// layer.
func violations(deps map[string][]string) []string {
	var bad []string
	for pkg, imps := range deps {
		from := Of(pkg)
		if from < 0 {
			bad = append(bad, strings.TrimPrefix(pkg, Module)+" is in no layer: add it to layers.Layers")
			continue
		}
		for _, imp := range imps {
			if to := Of(imp); to > from {
				bad = append(bad, strings.TrimPrefix(pkg, Module)+" (layer "+strconv.Itoa(from)+") imports "+strings.TrimPrefix(imp, Module)+" (layer "+strconv.Itoa(to)+")")
			}
		}
	}
	return bad
}

func TestNoImportGoesUp(t *testing.T) {
	for _, v := range violations(imports(t)) {
		t.Error(v)
	}
}

// The check itself: a deliberate upward import and an unlisted package
// are both caught.
func TestViolationsAreCaught(t *testing.T) {
	deps := map[string][]string{
		Module + "harness/report":    {Module + "harness/detect"},
		Module + "harness/detect":    {Module + "harness/report"},
		Module + "harness/mystery":   nil,
		Module + "harness/node/qemu": {Module + "harness/node"},
	}
	got := strings.Join(violations(deps), "\n")
	for _, want := range []string{"harness/report (layer 1) imports harness/detect (layer 7)", "harness/mystery is in no layer"} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "harness/detect (layer") && strings.Contains(got, "imports harness/report") {
		t.Errorf("a downward import was reported:\n%s", got)
	}
}
