package extrasandbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/reproscript"
)

func TestManualStepsAreLintedShellWithTheRecipe(t *testing.T) {
	setup := "# The same cluster with the kind CLI, from relapse's node image (tree: /x):\n#   kind create cluster\n"
	script, err := manualSteps(setup, "v1.19.3", 12, 2*time.Second, 45*time.Second, 4*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(script, "#!/bin/sh\n# kubernetes#92613") {
		t.Errorf("script does not start with its shebang and the bug:\n%s", script)
	}
	for _, want := range []string{"kubelet 1.19.3", "# The same cluster with the kind CLI", "restartPolicy: OnFailure",
		`while [ "$i" -lt 12 ]`, "sleep 2\n", "--timeout=240s", "sleep 45\n", "relapse-run: \"$$\"", "crictl pods --label relapse-run=$$ -o json",
		`kubectl delete --ignore-not-found --wait=false -f "$here/jobs.yaml"`, "trap cleanup EXIT", "REPRODUCED: ", "NOT REPRODUCED: none of 12"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if err := reproscript.Lint(context.Background(), script); err != nil {
		t.Error(err)
	}
	// Without a cluster recipe the header has no empty comment block.
	bare, err := manualSteps("", "v1.19.3", 1, time.Millisecond, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(bare, "#\n\n") || !strings.Contains(bare, "sleep 1\n") || !strings.Contains(bare, "--timeout=60s") {
		t.Errorf("script without a recipe or with sub-second waits:\n%s", bare)
	}
	if err := reproscript.Lint(context.Background(), bare); err != nil {
		t.Error(err)
	}
}
