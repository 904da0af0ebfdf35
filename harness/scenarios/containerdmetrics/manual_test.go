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
	for _, want := range []string{"address = \"127.0.0.1:1338\"", "for i in $(seq 4)", "xargs -P 8", "ip netns delete $ns", "trap cleanup EXIT",
		"containerd-shim-runc-v2 .*-address $here/c.sock", "cgroup.procs", "make_rootfs rootfs sh sleep", "HUNG: ", "STARTED: 200 of 200"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	for _, bad := range []string{"/path/to/static", "pkill -f $PWD/containerd", "/tmp/relapse", "fixtures/"} {
		if strings.Contains(script, bad) {
			t.Errorf("script still has %q", bad)
		}
	}
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}
}
