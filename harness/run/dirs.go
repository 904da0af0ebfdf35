package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/privdir"
)

// A run's working directory holds what relapse executes and serves as
// root (the runc it copies in, bundles, daemons' state and sockets), so it
// lives where no other user can reach or replace it: a directory with a
// name nobody can guess in DirRoot, both private to root (privdir).

// DirRoot holds each run's working directory on its node:
// privdir.Root()/run. It is short because engines put unix sockets
// several levels below it and a socket path may not exceed 108 bytes.
func DirRoot() string { return filepath.Join(privdir.Root(), dirRootName) }

// dirRootName is DirRoot's name in privdir's root.
const dirRootName = "run"

// legacyDirRoot is where relapse kept run directories before they became
// private; journal entries of runs killed then still name it.
var legacyDirRoot = filepath.Join(os.TempDir(), "relapse")

// NewDir names a new run directory: the run's short ID and a random
// suffix in DirRoot. It makes nothing, so the run journals the path before
// MakeDir makes it.
func NewDir(runID string) string { return privdir.NewName(DirRoot(), ShortID(runID)+"-") }

// MakeDir makes dir (from NewDir) on n: DirRoot private (made or checked),
// and dir new and private in it. On this host privdir checks each with
// Lstat; on another node (a VM or box of the run's own) a shell line makes
// the same checks.
func MakeDir(ctx context.Context, n node.Node, dir string) error {
	if _, err := CheckChild("make the run directory", dir, DirRoot()); err != nil {
		return err
	}
	if n.Provider() == "local" {
		if _, err := privdir.Under(dirRootName); err != nil {
			return fmt.Errorf("run directories: %w", err)
		}
		if err := privdir.Mkdir(dir); err != nil {
			return fmt.Errorf("run directory: %w", err)
		}
		return nil
	}
	root := privdir.Root()
	err := n.Command("sh", "-c", makeDirScript, "make-run-dir", root, filepath.Dir(dir), dir).Run(ctx)
	if err != nil {
		return fmt.Errorf("making run directory %s on %s: %w", dir, n.Name(), err)
	}
	return nil
}

// makeDirScript makes $1 and $2 if missing and checks them, then makes $3
// (which must be new), each a directory of root's with mode 0700 and no
// symbolic link; a node's commands run as root.
const makeDirScript = `umask 077
check() {
	if [ -L "$1" ] || [ ! -d "$1" ] || [ "$(stat -c %u:%a "$1")" != 0:700 ]; then
		echo "$1 is not a private directory of root (want owner uid 0, mode 0700, no symbolic link): $(ls -ld "$1" 2>&1)" >&2
		exit 1
	fi
}
for d in "$1" "$2"; do
	[ -e "$d" ] || [ -L "$d" ] || mkdir "$d" || exit 1
	check "$d"
done
mkdir "$3" || exit 1
check "$3"`

// MakeLocalDir makes dir, a path in DirRoot, on this host: DirRoot
// private, the run's directory (DirRoot's child) private (made, or
// checked when there), and the rest of the path below it. A VM node's
// cluster keeps a local copy of the run directory at the same path as on
// the node.
func MakeLocalDir(dir string) error {
	if _, err := CheckTarget("make the run directory", dir, DirRoot()); err != nil {
		return err
	}
	parent, err := privdir.Under(dirRootName)
	if err != nil {
		return fmt.Errorf("run directories: %w", err)
	}
	rel, _ := filepath.Rel(parent, filepath.Clean(dir))
	top, rest, _ := strings.Cut(rel, string(filepath.Separator))
	runDir := filepath.Join(parent, top)
	if err := privdir.Ensure(runDir); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	if rest == "" {
		return nil
	}
	return os.MkdirAll(dir, 0o755)
}

// RemoveDir removes a run directory (or a directory in one) in DirRoot,
// and nothing else: a forged or corrupt journal entry must not point it
// anywhere else, and DirRoot must still be private, so that nobody can
// have swapped a path in it for a link to elsewhere.
func RemoveDir(path string) error {
	dir, err := CheckTarget("remove the run directory", path, DirRoot())
	if err != nil {
		return err
	}
	return privdir.RemoveBelow(DirRoot(), dir)
}

// IsLegacyDir says whether path is in one of the shared, predictable
// directories relapse used before its directories became private
// (/tmp/relapse/..., /tmp/relapse-vm/...). Repairers leave such a
// directory alone rather than remove, as root, a path another user may
// have put there.
func IsLegacyDir(path, legacyRoot string) bool {
	clean := filepath.Clean(path)
	return filepath.IsAbs(path) && filepath.Dir(clean) == legacyRoot
}

// LegacyNote is a repairer's note for a directory IsLegacyDir left alone.
func LegacyNote(path string) string {
	return "left " + path + " alone: an older relapse made it in a directory every user may write to, so removing it as root is not safe; " +
		"check who owns it (ls -ld " + filepath.Dir(path) + " " + path + ") and remove it by hand if it is relapse's"
}

func init() {
	RegisterLocalRepairer("run-dir", func(_ context.Context, e Entry) (string, error) {
		path := e.Data["path"]
		if IsLegacyDir(path, legacyDirRoot) {
			return LegacyNote(path), nil
		}
		if err := RemoveDir(path); err != nil {
			return "", err
		}
		return "removed run directory " + path, nil
	})
}
