package containerdmetrics

import (
	"context"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/reproscript"
	"github.com/relapse-dev/relapse/harness/versions"
)

func TestManualStepsAreLintedShellWithTheRecipe(t *testing.T) {
	script, err := manualSteps(versions.Artifact{Resolved: versions.Resolved{Version: "v1.6.2"}, BuildCommand: "true"},
		versions.Artifact{Resolved: versions.Resolved{Version: "v1.1.1"}, BuildCommand: "true"}, 2, 4, 8, 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"address = \"127.0.0.1:1338\"", "for i in $(seq 4)", "xargs -P 8", "netns=ctrd6772-$$", "cgroup=repro6772-$$",
		"ip netns delete \"$netns\"", "trap cleanup EXIT", "make_rootfs rootfs sh sleep", "HUNG: ", "STARTED: 200 of 200"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	for _, bad := range []string{"/path/to/static", "pkill -f $PWD/containerd", "/tmp/relapse", "fixtures/"} {
		if strings.Contains(script, bad) {
			t.Errorf("script still has %q", bad)
		}
	}
	if err := reproscript.Lint(context.Background(), script); err != nil {
		t.Error(err)
	}
}

// A containerd 2.3 or later gets its own layout: the server settings in
// server plugins, as the daemon reads them without migrating.
func TestManualStepsWriteTheLayoutOfTheContainerdThatRan(t *testing.T) {
	script, err := manualSteps(versions.Artifact{Resolved: versions.Resolved{Version: "v2.4.2"}, BuildCommand: "true"},
		versions.Artifact{Resolved: versions.Resolved{Version: "v1.1.1"}, BuildCommand: "true"}, 4, 4, 8, 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"version = 4", `[plugins."io.containerd.server.v1.metrics"]`, `address = "127.0.0.1:1338"`,
		`address = "$here/c.sock"`, "(version 4)"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "\n[grpc]") {
		t.Error("a version 4 config with a top-level [grpc] table")
	}
	if err := reproscript.Lint(context.Background(), script); err != nil {
		t.Error(err)
	}
	if _, err := manualSteps(versions.Artifact{}, versions.Artifact{}, 9, 4, 8, 200); err == nil {
		t.Error("a config version relapse does not know rendered a script")
	}
}
