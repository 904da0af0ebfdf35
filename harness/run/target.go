package run

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
)

// NamePrefix starts every name relapse gives a host object of its own
// (network namespaces, cgroup parents, kind clusters): what a repairer may
// act on by name.
const NamePrefix = "relapse-"

// A repairer acts as root on what a journal entry names, read back from
// disk after a run died: a corrupt, truncated or forged entry must not
// point it at anything relapse did not make. An empty directory matches
// every command line, an empty cgroup name every process under
// /sys/fs/cgroup, "/" everything. So every repair target goes through
// CheckTarget first, and only the path it returns is used.

// CheckTarget returns the cleaned path if it is absolute and strictly
// inside root; what says what the caller is about to do ("remove",
// "kill the processes under") and goes into the error. An empty, relative
// or out-of-tree path, and root itself, are refused.
func CheckTarget(what, path, root string) (string, error) {
	root = filepath.Clean(root)
	refuse := func(why string) (string, error) {
		return "", fmt.Errorf("refusing to %s %q: %s; a relapse target is an absolute path inside %s", what, path, why, root)
	}
	switch {
	case path == "":
		return refuse("empty")
	case strings.ContainsRune(path, 0):
		return refuse("contains a NUL byte")
	case !filepath.IsAbs(path):
		return refuse("relative")
	}
	clean := filepath.Clean(path)
	rel, err := filepath.Rel(root, clean)
	switch {
	case clean == "/":
		return refuse("the root directory")
	case err != nil || rel == ".." || strings.HasPrefix(rel, "../"):
		return refuse("outside " + root)
	case rel == ".":
		return refuse("the tree itself, not something in it")
	}
	return clean, nil
}

// CheckChild is CheckTarget for a path directly inside root (a run's or a
// VM node's directory, never one below it).
func CheckChild(what, path, root string) (string, error) {
	clean, err := CheckTarget(what, path, root)
	if err != nil {
		return "", err
	}
	if filepath.Dir(clean) != filepath.Clean(root) {
		return "", fmt.Errorf("refusing to %s %q: not directly inside %s", what, path, root)
	}
	return clean, nil
}

// CheckName checks a name relapse gave a host object (a network namespace,
// a cgroup parent under each hierarchy's root): one path element that
// starts with NamePrefix.
func CheckName(what, name string) error {
	if _, err := CheckChild(what, "/"+name, "/"); err != nil || name != filepath.Clean(name) || strings.ContainsRune(name, '/') {
		return fmt.Errorf("refusing to %s %q: not a single name; relapse names its own with the prefix %q", what, name, NamePrefix)
	}
	if !strings.HasPrefix(name, NamePrefix) || name == NamePrefix {
		return fmt.Errorf("refusing to %s %q: relapse names its own with the prefix %q", what, name, NamePrefix)
	}
	return nil
}

// trees are the directories relapse keeps what it runs in: DirRoot, and
// those node providers register (a VM node's host-side directory, where
// a Vagrant node's libvirtd lives).
var (
	treesMu sync.Mutex
	trees   = []func() string{DirRoot}
)

// RegisterTree adds a directory relapse makes and runs things in (called
// from init, as RegisterRepairer is); root is asked each time, so a root
// chosen at run time is honoured.
func RegisterTree(root func() string) {
	treesMu.Lock()
	defer treesMu.Unlock()
	trees = append(trees, root)
}

// RunTarget is CheckTarget inside any of relapse's trees (DirRoot, where
// every run keeps what it makes on its node: daemon directories, runc
// roots and binaries; and the registered ones).
func RunTarget(what, path string) (string, error) {
	treesMu.Lock()
	roots := make([]string, len(trees))
	for i, root := range trees {
		roots[i] = root()
	}
	treesMu.Unlock()
	var firstErr error
	for _, root := range roots {
		clean, err := CheckTarget(what, path, root)
		if err == nil {
			return clean, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if len(roots) > 1 {
		return "", fmt.Errorf("%w, nor inside %s", firstErr, strings.Join(roots[1:], " or "))
	}
	return "", firstErr
}
