package plegnotready

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/reproscript"
)

func TestManualStepsAreLintedShellThatAlwaysContinuesTheRuntime(t *testing.T) {
	script, err := manualSteps("# The same cluster with the kind CLI\n", "v1.30.14", "ListPodSandbox,ListContainers", 3*time.Minute+30*time.Second, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(script, "#!/bin/sh\n") {
		t.Errorf("script does not start with its shebang:\n%s", script)
	}
	for _, want := range []string{"kubelet 1.30.14", "# The same cluster with the kind CLI", "holds only ListPodSandbox,ListContainers for 210 s",
		`kill -STOP "$RUNTIME_PID"`, "end=$(($(date +%s) + 210))", "end=$(($(date +%s) + 120))", "trap cleanup EXIT",
		"release() {\n  if [ -n \"$runtime_stopped\" ]; then\n    kill -CONT \"$RUNTIME_PID\"", "REPRODUCED: ", "NOT REPRODUCED: "} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	// The runtime is not the script's: nothing may kill it.
	for _, bad := range []string{"own \"$RUNTIME_PID\"", "kill -9 \"$RUNTIME_PID\"", "kill -KILL"} {
		if strings.Contains(script, bad) {
			t.Errorf("script has %q", bad)
		}
	}
	if err := reproscript.Lint(context.Background(), script); err != nil {
		t.Error(err)
	}
}
