package run

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/privdir"
)

// privateRoot points privdir's root at a new short directory of the
// test's own (a socket-length root; t.TempDir is too long).
func privateRoot(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("/tmp", "rs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	t.Setenv(privdir.RootEnv, root)
	return root
}

func TestRunDirectoriesArePrivateAndUnguessable(t *testing.T) {
	root := privateRoot(t)
	if DirRoot() != filepath.Join(root, "run") {
		t.Fatalf("DirRoot = %s, want %s/run", DirRoot(), root)
	}
	a, b := NewDir("20261206-x-abc123"), NewDir("20261206-x-abc123")
	if a == b || filepath.Dir(a) != DirRoot() || !strings.HasPrefix(filepath.Base(a), "abc123-") {
		t.Fatalf("NewDir gave %s and %s; want two different abc123-<random> names in %s", a, b, DirRoot())
	}
	ctx := context.Background()
	if err := MakeDir(ctx, local.New(), a); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, DirRoot(), a} {
		if err := privdir.Check(d); err != nil {
			t.Error(err)
		}
	}
	// Made once: a second make of the same name fails (it is someone's).
	if err := MakeDir(ctx, local.New(), a); err == nil {
		t.Error("MakeDir of an existing run directory succeeded")
	}
	// A VM cluster's local copy of a repetition's directory.
	rep := filepath.Join(b, "r2", "k8s")
	if err := MakeLocalDir(rep); err != nil {
		t.Fatal(err)
	}
	if err := privdir.Check(b); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"/etc", DirRoot(), filepath.Join(DirRoot(), ".."), "relative/run"} {
		if err := MakeDir(ctx, local.New(), bad); err == nil {
			t.Errorf("MakeDir(%q) succeeded", bad)
		}
		if err := RemoveDir(bad); err == nil {
			t.Errorf("RemoveDir(%q) succeeded", bad)
		}
	}
	if err := RemoveDir(filepath.Join(b, "r2")); err != nil {
		t.Errorf("RemoveDir of a directory in a run directory: %v", err)
	}
	for _, d := range []string{a, b} {
		if err := RemoveDir(d); err != nil {
			t.Error(err)
		}
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there after RemoveDir", d)
		}
	}
}

// A DirRoot another user can write to: nothing is removed through it.
func TestRemoveDirRefusesAnOpenRoot(t *testing.T) {
	privateRoot(t)
	dir := NewDir("abc123")
	if err := MakeDir(context.Background(), local.New(), dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(DirRoot(), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := RemoveDir(dir); err == nil || !strings.Contains(err.Error(), "mode 0777") {
		t.Errorf("RemoveDir under a root of mode 0777: err = %v, want a refusal naming the mode", err)
	}
	if _, err := os.Lstat(dir); err != nil {
		t.Errorf("RemoveDir removed %s under a root it refused: %v", dir, err)
	}
}

// The journal entry of a run killed before run directories were private
// names /tmp/relapse/<id>: the repair forgets it and leaves the directory
// (another user may own what is there) with a note saying so.
func TestRepairLeavesLegacyRunDirectories(t *testing.T) {
	privateRoot(t)
	legacy := filepath.Join(legacyDirRoot, "zz9zz9")
	j := openTestJournal(t, "old-run")
	if _, err := j.Record("run-dir", "local", map[string]string{"path": legacy}); err != nil {
		t.Fatal(err)
	}
	done, err := j.Repair(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || !strings.Contains(done[0].Note, "left "+legacy+" alone") {
		t.Fatalf("repair = %+v, want a note that %s was left alone", done, legacy)
	}
	if files := journalFiles(t, j); len(files) != 0 {
		t.Errorf("journal still holds %v", files)
	}
}

// On another node (a VM of the run's own) the same checks run in a shell:
// run here as root, it makes the three directories private, and refuses a
// root another user made.
func TestMakeDirScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the node-side script checks for root's directories; run as root")
	}
	root := filepath.Join(t.TempDir(), "relapse")
	parent := filepath.Join(root, "run")
	dir := filepath.Join(parent, "abc123-xxxxxxxx")
	script := func() (string, error) {
		out, err := exec.Command("sh", "-c", makeDirScript, "make-run-dir", root, parent, dir).CombinedOutput()
		return string(out), err
	}
	if out, err := script(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, d := range []string{root, parent, dir} {
		if err := privdir.Check(d); err != nil {
			t.Error(err)
		}
	}
	if out, err := script(); err == nil {
		t.Errorf("the script made %s a second time: %s", dir, out)
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(root, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out, err := script()
	if err == nil || !strings.Contains(out, root+" is not a private directory of root") {
		t.Errorf("a root of another user: %v %s; want a refusal naming %s", err, out, root)
	}
	if _, err := os.Lstat(parent); !os.IsNotExist(err) {
		t.Errorf("the script made %s in a root it refused", parent)
	}
}
