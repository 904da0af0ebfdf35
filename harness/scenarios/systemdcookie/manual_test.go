package systemdcookie

import (
	"context"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/reproscript"
)

func TestManualStepsAreLintedShellGuardedForThrowAwayVMs(t *testing.T) {
	script, err := manualSteps(settings{margin: 300})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(script, "#!/bin/sh\n# systemd#11809") {
		t.Errorf("script does not start with its shebang and the bug:\n%s", script)
	}
	for _, want := range []string{`if [ "${THROWAWAY_VM:-}" != yes ]; then`, "relapse-agent bus-cookie 4294966995",
		"cookie = 4294966995", `while [ "$i" -lt 350 ] && [ "$missed" -lt 3 ]`, `"$highest" -lt 4294966995`, "dbus-monitor --system", "own $!",
		"release() {\n  if [ -n \"$cookie_moved\" ]; then\n    timeout 120 systemctl daemon-reexec", "trap cleanup EXIT",
		"REPRODUCED: ", "NOT REPRODUCED: "} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	// The guard comes before anything touches PID 1.
	if guard, mover := strings.Index(script, "THROWAWAY_VM:-"), strings.Index(script, "bus-cookie 4294966995"); guard < 0 || mover < guard {
		t.Errorf("the throw-away guard (at %d) does not come before the cookie mover (at %d)", guard, mover)
	}
	if err := reproscript.Lint(context.Background(), script); err != nil {
		t.Error(err)
	}
}
