package privdir

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// RootEnv names the variable that moves the root away from DefaultRoot.
// It is not RELAPSE_STATE, the journal's and host lock's directory, which
// outlives runs (/var/lib/relapse); this one holds only what runs execute
// and serve, like XDG_RUNTIME_DIR.
const RootEnv = "RELAPSE_RUNTIME_DIR"

// oldRootEnv is RootEnv's earlier name, one letter from RELAPSE_STATE;
// a run that finds it set stops rather than silently use /run/relapse.
const oldRootEnv = "RELAPSE_STATE_DIR"

// DefaultRoot is the root when RootEnv is unset: only root may create
// entries in /run, so no other user can make it first.
const DefaultRoot = "/run/relapse"

// MaxRootLen bounds the root's length. Unix socket paths may not exceed
// 107 bytes and the deepest one relapse makes is 83 bytes below the root:
// a VM's ssh control socket, root/vm/s-<run>-<random>/ssh/<40 hex> plus
// the 17-byte suffix ssh adds while it binds.
const MaxRootLen = 24

// Root is where relapse keeps the directories it executes from or serves
// from: $RELAPSE_RUNTIME_DIR, else /run/relapse. Root only names it; Under
// makes and checks it.
func Root() string {
	if d := os.Getenv(RootEnv); d != "" {
		return d
	}
	return DefaultRoot
}

// checkRoot refuses a root that is relative or too long for the sockets
// below it, before anything is made.
func checkRoot(root string) error {
	if old := os.Getenv(oldRootEnv); old != "" {
		return fmt.Errorf("%s=%q: the variable is now called %s (RELAPSE_STATE is the journal's directory); set %s=%q instead and unset %s",
			oldRootEnv, old, RootEnv, RootEnv, old, oldRootEnv)
	}
	if !filepath.IsAbs(root) {
		return fmt.Errorf("%s=%q is not an absolute path; give one such as %s", RootEnv, root, DefaultRoot)
	}
	if n := len(filepath.Clean(root)); n > MaxRootLen {
		return fmt.Errorf("%s=%q is %d bytes; relapse keeps unix sockets up to %d bytes below it and a socket path may not exceed 107 bytes: give a path of at most %d bytes (such as %s)",
			RootEnv, root, n, 107-MaxRootLen, MaxRootLen, DefaultRoot)
	}
	return nil
}

// EnsureRoot makes (or checks) the root, private, and returns its path;
// a run calls it before it changes anything, so that a root another user
// made first stops it with the reason.
func EnsureRoot() (string, error) {
	root := Root()
	if err := checkRoot(root); err != nil {
		return "", err
	}
	root = filepath.Clean(root)
	if err := Ensure(root); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return "", fmt.Errorf("%w (relapse runs as root; as another user set %s to a path of at most %d bytes below directories of yours)", err, RootEnv, MaxRootLen)
		}
		return "", withRootHint(err)
	}
	return root, nil
}

// Under makes (or checks) the root and its subdirectory name, both
// private, and returns the subdirectory's path.
func Under(name string) (string, error) {
	root, err := EnsureRoot()
	if err != nil {
		return "", err
	}
	sub := filepath.Join(root, name)
	if err := Ensure(sub); err != nil {
		return "", withRootHint(err)
	}
	return sub, nil
}

// withRootHint adds the other way out to a refused root: another root.
func withRootHint(err error) error {
	var np *NotPrivateError
	if errors.As(err, &np) {
		np.Fix += fmt.Sprintf(", or set %s to another path (at most %d bytes, below directories only root can change)", RootEnv, MaxRootLen)
	}
	return err
}

// Ensure makes dir a private directory of this process's user, or checks
// that it is one: a real directory (not a symlink) owned by this user with
// mode exactly 0700, below directories no other user can change. Its
// parent must exist.
func Ensure(dir string) error {
	dir, err := parentsChecked(dir)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err == nil {
		// The umask may have taken bits away; the parent is safe, so no
		// one can have replaced the directory since.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("making %s mode 0700: %w", dir, err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("making private directory %s: %w", dir, err)
	}
	return checkDir(dir)
}

// Check verifies that dir is a private directory as Ensure leaves it,
// making nothing.
func Check(dir string) error {
	dir, err := parentsChecked(dir)
	if err != nil {
		return err
	}
	return checkDir(dir)
}

// parentsChecked cleans an absolute dir and checks the directories above
// it: the part Ensure and Check share.
func parentsChecked(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("private directory %q: not an absolute path", dir)
	}
	dir = filepath.Clean(dir)
	return dir, checkParents(dir)
}

// Inside says whether path is strictly below parent (not parent itself,
// nothing reached through ".."); both must be absolute.
func Inside(parent, path string) bool {
	if !filepath.IsAbs(parent) || !filepath.IsAbs(path) {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(parent), filepath.Clean(path))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// RemoveBelow removes path, which must be strictly below parent, and only
// while parent is private: nobody can then have swapped a directory on the
// way for a link to elsewhere. A parent that does not exist holds nothing
// to remove.
func RemoveBelow(parent, path string) error {
	if !Inside(parent, path) {
		return fmt.Errorf("refusing to remove %q: not in %s", path, parent)
	}
	if _, err := os.Lstat(parent); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := Check(parent); err != nil {
		return fmt.Errorf("refusing to remove %s: %w", path, err)
	}
	return os.RemoveAll(filepath.Clean(path))
}

// nameEncoding spells random bytes in lower case letters and digits.
var nameEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewName returns a path in parent that nobody can guess: prefix and
// eight random characters (40 bits). It makes nothing, so a caller can
// journal the path before Mkdir makes it.
func NewName(parent, prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return filepath.Join(parent, prefix+nameEncoding.EncodeToString(b))
}

// Mkdir makes path as a new private directory; it fails if path exists
// (someone else made it), and its parent must be private.
func Mkdir(path string) error {
	parent := filepath.Dir(filepath.Clean(path))
	if err := Check(parent); err != nil {
		return err
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		return fmt.Errorf("making private directory: %w", err)
	}
	if err := os.Chmod(path, 0o700); err != nil {
		return fmt.Errorf("making %s mode 0700: %w", path, err)
	}
	return checkDir(path)
}

// NotPrivateError says why a path cannot hold relapse's files and what to
// do about it.
type NotPrivateError struct {
	Path string
	// Problem is what is wrong ("is owned by uid 65534 (nobody) and has
	// mode 0777").
	Problem string
	// Fix is what the person running relapse can do.
	Fix string
}

func (e *NotPrivateError) Error() string {
	return fmt.Sprintf("%s cannot hold relapse's files: it %s. relapse runs binaries and keeps sockets there as root, so it must be a directory relapse made itself, "+
		"owned by %s with mode 0700, below directories no other user can change; %s",
		e.Path, e.Problem, userName(uint32(os.Geteuid())), e.Fix)
}

// checkDir checks dir itself with Lstat.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking private directory: %w", err)
	}
	fix := "if you did not make it, find out who did (another user may be trying to run code as root through it), then remove it (rm -rf -- " + dir + ") and run again"
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(dir)
		return &NotPrivateError{Path: dir, Problem: fmt.Sprintf("is a symbolic link (to %s, owned by %s)", target, userName(owner(fi))), Fix: fix}
	}
	if !fi.IsDir() {
		return &NotPrivateError{Path: dir, Problem: "is not a directory (" + fi.Mode().Type().String() + ")", Fix: fix}
	}
	var problems []string
	if uid := owner(fi); uid != uint32(os.Geteuid()) {
		problems = append(problems, "is owned by "+userName(uid))
	}
	if m := modeBits(fi.Mode()); m != 0o700 {
		problems = append(problems, fmt.Sprintf("has mode %04o", m))
	}
	if len(problems) > 0 {
		return &NotPrivateError{Path: dir, Problem: strings.Join(problems, " and "), Fix: fix}
	}
	return nil
}

// checkParents walks from / down to dir's parent one name at a time,
// following symbolic links as the kernel would, and refuses any step
// another user could change: an entry owned by someone else than root or
// this user, or a directory others may write to without the sticky bit
// (which keeps them from renaming or removing what they do not own).
func checkParents(dir string) error {
	names := splitPath(filepath.Dir(dir))
	cur := "/"
	if err := checkStep(cur, dir); err != nil {
		return err
	}
	for links := 0; len(names) > 0; {
		name := names[0]
		names = names[1:]
		switch name {
		case ".":
			continue
		case "..":
			// Every directory above cur was checked on the way down.
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return fmt.Errorf("checking the directories above %s: %w", dir, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if !trusted(owner(fi)) {
				return &NotPrivateError{Path: dir, Problem: fmt.Sprintf("is below %s, a symbolic link owned by %s", next, userName(owner(fi))), Fix: parentFix}
			}
			if links++; links > 40 {
				return fmt.Errorf("checking the directories above %s: too many symbolic links", dir)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return fmt.Errorf("checking the directories above %s: %w", dir, err)
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			names = append(splitPath(target), names...)
			continue
		}
		if err := checkStep(next, dir); err != nil {
			return err
		}
		cur = next
	}
	return nil
}

const parentFix = "choose a directory whose parents only root (or you) can change"

// checkStep checks one directory above dir.
func checkStep(path, dir string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("checking the directories above %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("checking the directories above %s: %s is not a directory", dir, path)
	}
	if !trusted(owner(fi)) {
		return &NotPrivateError{Path: dir, Problem: fmt.Sprintf("is below %s, owned by %s", path, userName(owner(fi))), Fix: parentFix}
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return &NotPrivateError{Path: dir, Problem: fmt.Sprintf("is below %s, which others may write to (mode %04o, no sticky bit)", path, modeBits(fi.Mode())), Fix: parentFix}
	}
	return nil
}

func splitPath(p string) []string {
	var names []string
	for _, n := range strings.Split(p, "/") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

func trusted(uid uint32) bool { return uid == 0 || uid == uint32(os.Geteuid()) }

func owner(fi fs.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Uid }

// modeBits is the mode as chmod spells it, set-id and sticky bits included.
func modeBits(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// userName is "uid N (name)", or "uid N" for an id with no name.
func userName(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}
