package ctrdkit

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/versions"
)

// The CRI section names the runc under test and the run's own
// directories, in the layout of the version that reads it.
func TestCRISection(t *testing.T) {
	for version, table := range map[string]string{"v1.7.3": `plugins."io.containerd.grpc.v1.cri"`, "v2.4.2": `plugins."io.containerd.cri.v1.runtime"`} {
		got := criSection(versions.Artifact{Resolved: versions.Resolved{Version: version}}, "/run/r/bin/runc", "/run/r/containerd")
		for _, want := range []string{table, `BinaryName = "/run/r/bin/runc"`, `Root = "/run/r/containerd/runc"`, "/run/r/containerd/cni/net.d", "relapse.local/pause:1"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: CRI section lacks %q:\n%s", version, want, got)
			}
		}
	}
}

// The engine is registered for containerd and offers CRI; a bug asking
// for something else is refused.
func TestEngineRegistered(t *testing.T) {
	b := &kit.Bug{Component: "containerd", Needs: []string{NeedCRI}}
	// The rest of the declaration is empty: only the engine's part counts.
	if err := kit.Check(b); err != nil && (strings.Contains(err.Error(), "field Component") || strings.Contains(err.Error(), "field Needs")) {
		t.Errorf("Check of a containerd bug that needs CRI: %v", err)
	}
	b.Needs = []string{"gpu"}
	if err := kit.Check(b); err == nil || !strings.Contains(err.Error(), `field Needs "gpu": the containerd engine offers cri`) {
		t.Errorf("Check of a containerd bug that needs a gpu = %v", err)
	}
}
