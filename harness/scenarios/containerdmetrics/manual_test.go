package containerdmetrics

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/versions"
)

func TestManualStepsAreValidShellWithTheRecipe(t *testing.T) {
	script := manualSteps(versions.Artifact{Resolved: versions.Resolved{Version: "v1.6.2"}, BuildCommand: "true"},
		versions.Artifact{Resolved: versions.Resolved{Version: "v1.1.1"}, BuildCommand: "true"}, 4, 8, 200)
	for _, want := range []string{"address = \"127.0.0.1:1338\"", "for i in $(seq 4)", "xargs -P 8", "ip netns delete ctrd-6772", "kill $(jobs -p)"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}
}
