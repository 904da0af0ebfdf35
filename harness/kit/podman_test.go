package kit

import (
	"os/exec"
	"strings"
	"testing"
)

// The reproducer's podman lines are valid shell, run from the report
// directory with podman's state in it, and remove that state on exit.
func TestPodmanReproducerLines(t *testing.T) {
	r := &Run{}
	r.undo = []string{"podman " + strings.Join(podmanStore("$PWD/podman"), " ") + " rm --all --force; rm -rf podman"}
	r.Script(podmanScriptLine("control", "control: no errnoRet rules", []string{"probe=clone3"}, []string{"--security-opt", "seccomp=podman-control-seccomp.json"}))
	script := r.script(valid())
	if err := exec.Command("sh", "-n", "-c", script).Run(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, script)
	}
	for _, want := range []string{`--runtime "$(command -v runc)"`, "--root $PWD/podman/storage", "seccomp=podman-control-seccomp.json", "--rootfs control/rootfs /init probe=clone3",
		"trap 'podman --root $PWD/podman/storage"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
}
