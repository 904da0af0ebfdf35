package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A daemon's /run is an empty tmpfs of its own, but relapse's private root
// below /run, where the daemon's files are, is still there, the same
// directory as outside.
func TestPrivateRunKeepsRelapsesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mount namespaces and tmpfs mounts need root")
	}
	keep, err := os.MkdirTemp("/run", "relapse-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(keep)
	if err := os.WriteFile(filepath.Join(keep, "daemon.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Something else of the host's /run, which the daemon must not see.
	other, err := os.MkdirTemp("/run", "host-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(other)
	script := privateRunAndOpt(keep) + `cat "$1/daemon.json"; ls /run`
	out, err := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", keep).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	inside := strings.Fields(string(out))
	if len(inside) == 0 || inside[0] != "{}" || !slices.Contains(inside, filepath.Base(keep)) || slices.Contains(inside, filepath.Base(other)) {
		t.Errorf("inside: %q; want the kept file's {} and a /run with %s but not %s", out, filepath.Base(keep), filepath.Base(other))
	}
}
