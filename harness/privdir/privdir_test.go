package privdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is the uid another user's directory gets in these tests.
const nobody = 65534

// base is a directory whose parents are safe (the test's temporary
// directory under a sticky /tmp), for private directories to go in.
func base(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a directory another user owns needs root (chown)")
	}
}

// wantRefused asserts err is a NotPrivateError about path whose text
// holds every want.
func wantRefused(t *testing.T, err error, path string, want ...string) {
	t.Helper()
	var np *NotPrivateError
	if !errors.As(err, &np) {
		t.Fatalf("err = %v, want a NotPrivateError about %s", err, path)
	}
	if np.Path != path {
		t.Errorf("refused %s, want %s", np.Path, path)
	}
	for _, w := range append(want, path, "0700") {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestEnsureMakesAPrivateDirectory(t *testing.T) {
	dir := filepath.Join(base(t), "relapse")
	// A umask that takes the owner's write bit: Ensure still ends at 0700.
	old := syscall.Umask(0o277)
	defer syscall.Umask(old)
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 || owner(fi) != uint32(os.Geteuid()) {
		t.Fatalf("made %s with mode %v owner %d, want a directory of uid %d mode 0700", dir, fi.Mode(), owner(fi), os.Geteuid())
	}
	// Ours and as made: accepted again.
	if err := Ensure(dir); err != nil {
		t.Fatalf("a directory Ensure made is refused the second time: %v", err)
	}
	if err := Check(dir); err != nil {
		t.Fatal(err)
	}
}

// A directory another user made first, open to all: refused, with the
// owner, the mode and what to do in the error, and left as it was.
func TestEnsureRefusesAnotherUsersDirectory(t *testing.T) {
	needRoot(t)
	dir := filepath.Join(base(t), "relapse")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	err := Ensure(dir)
	wantRefused(t, err, dir, "owned by uid 65534", "mode 0777", "rm -rf -- "+dir)
	fi, _ := os.Lstat(dir)
	if owner(fi) != nobody || fi.Mode().Perm() != 0o777 {
		t.Errorf("Ensure changed the refused directory: owner %d mode %v", owner(fi), fi.Mode())
	}
	wantRefused(t, Check(dir), dir, "owned by uid 65534")
}

// Another user's directory with the right mode, and ours with a wrong
// one: both refused.
func TestEnsureRefusesWrongOwnerOrMode(t *testing.T) {
	b := base(t)
	loose := filepath.Join(b, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, Ensure(loose), loose, "mode 0755")
	sticky := filepath.Join(b, "sticky")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o700|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, Ensure(sticky), sticky, "mode 1700")

	if os.Geteuid() != 0 {
		return
	}
	theirs := filepath.Join(b, "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, Ensure(theirs), theirs, "owned by uid 65534")
}

// A symbolic link where the directory should be, even to a private
// directory of ours: refused (whoever owns the link's directory could
// point it elsewhere).
func TestEnsureRefusesASymlink(t *testing.T) {
	b := base(t)
	target := filepath.Join(b, "real")
	if err := Ensure(target); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(b, "relapse")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, Ensure(link), link, "symbolic link", target)
}

func TestEnsureRefusesAFile(t *testing.T) {
	path := filepath.Join(base(t), "relapse")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, Ensure(path), path, "not a directory")
}

// A parent others may write to without the sticky bit lets them rename
// the private directory away and put their own in its place: refused.
func TestEnsureRefusesAnUnsafeParent(t *testing.T) {
	open := filepath.Join(base(t), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(open, "relapse")
	wantRefused(t, Ensure(dir), dir, "below "+open, "mode 0777, no sticky bit")
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("Ensure made %s below an unsafe parent", dir)
	}
	// The sticky bit keeps others from renaming what they do not own.
	if err := os.Chmod(open, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(dir); err != nil {
		t.Errorf("a private directory below a sticky parent is refused: %v", err)
	}
}

// A parent reached through a symbolic link another user owns: refused;
// through one of ours: its target is checked like any path.
func TestEnsureFollowsParentLinks(t *testing.T) {
	b := base(t)
	target := filepath.Join(b, "target")
	if err := Ensure(target); err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(b, "ours")
	if err := os.Symlink("target", ours); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(filepath.Join(ours, "relapse")); err != nil {
		t.Errorf("a private directory below our own link to a private directory is refused: %v", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	theirs := filepath.Join(b, "theirs")
	if err := os.Symlink("target", theirs); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(theirs, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(theirs, "relapse")
	wantRefused(t, Ensure(dir), dir, "symbolic link owned by uid 65534")
}

func TestMkdirMakesNewNamesOnly(t *testing.T) {
	parent := filepath.Join(base(t), "run")
	if err := Ensure(parent); err != nil {
		t.Fatal(err)
	}
	a, b := NewName(parent, "abc123-"), NewName(parent, "abc123-")
	if a == b || filepath.Dir(a) != parent || !strings.HasPrefix(filepath.Base(a), "abc123-") || len(filepath.Base(a)) != len("abc123-")+8 {
		t.Fatalf("names %s and %s: want two different abc123-<8 random> names in %s", a, b, parent)
	}
	if err := Mkdir(a); err != nil {
		t.Fatal(err)
	}
	if err := Check(a); err != nil {
		t.Fatal(err)
	}
	// A name someone made first is not taken over.
	if err := Mkdir(a); err == nil {
		t.Fatal("Mkdir of an existing directory succeeded")
	}
	// A parent that is not private: nothing is made in it.
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, Mkdir(b), parent, "mode 0755")
	if _, err := os.Lstat(b); !os.IsNotExist(err) {
		t.Errorf("Mkdir made %s in a parent that is not private", b)
	}
}

func TestUnderRefusesTheOldRootName(t *testing.T) {
	t.Setenv(oldRootEnv, "/run/r")
	t.Setenv(RootEnv, "")
	_, err := Under("run")
	if err == nil || !strings.Contains(err.Error(), RootEnv) || !strings.Contains(err.Error(), oldRootEnv) {
		t.Errorf("%s set: err = %v, want an error naming %s and %s", oldRootEnv, err, oldRootEnv, RootEnv)
	}
}

func TestUnderChecksTheRoot(t *testing.T) {
	for _, bad := range []string{"relative/dir", "/" + strings.Repeat("x", MaxRootLen)} {
		t.Setenv(RootEnv, bad)
		if _, err := Under("run"); err == nil || !strings.Contains(err.Error(), RootEnv) {
			t.Errorf("%s=%q: err = %v, want an error naming %s", RootEnv, bad, err, RootEnv)
		}
	}
	// t.TempDir is too long for a root; a short private directory of the
	// test's own under /tmp stands in for /run/relapse.
	parent, err := os.MkdirTemp("/tmp", "pd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	root := filepath.Join(parent, "r")
	t.Setenv(RootEnv, root)
	sub, err := Under("vm")
	if err != nil {
		t.Fatal(err)
	}
	if sub != filepath.Join(root, "vm") {
		t.Errorf("Under(vm) = %s, want %s/vm", sub, root)
	}
	for _, d := range []string{root, sub} {
		if err := Check(d); err != nil {
			t.Error(err)
		}
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Under("vm")
	wantRefused(t, err, root, "mode 0755", "or set "+RootEnv)
}

func TestRemoveBelow(t *testing.T) {
	parent := filepath.Join(base(t), "run")
	if err := Ensure(parent); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "abc123-x")
	if err := Mkdir(dir); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{parent, filepath.Dir(parent), filepath.Join(parent, "..", "other"), "relative", ""} {
		if err := RemoveBelow(parent, bad); err == nil {
			t.Errorf("RemoveBelow(%q) succeeded", bad)
		}
	}
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, RemoveBelow(parent, dir), parent, "mode 0755")
	if _, err := os.Lstat(dir); err != nil {
		t.Fatalf("RemoveBelow removed %s below a parent it refused", dir)
	}
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := RemoveBelow(parent, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there", dir)
	}
	if err := RemoveBelow(filepath.Join(parent, "never-made"), filepath.Join(parent, "never-made", "x")); err != nil {
		t.Errorf("a parent that does not exist: %v", err)
	}
}
