package results

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/prowjob"
)

// stagingPrefix starts the hidden directory a merge stages a night in,
// inside the store so that the final rename stays on one filesystem.
const stagingPrefix = ".merge-"

// SourceCell is a cell found in a merge source.
type SourceCell struct {
	ID, Dir string
}

// maxSourceDepth is how deep below a merge source cells are looked for:
// <results>/<cell> (relapse matrix), <results>/cell-<index>/<cell> (an
// Indexed Job), and one more level for a directory of those (CI
// artifacts downloaded side by side).
const maxSourceDepth = 3

// FindCells lists the cells of merge sources: a source is a cell itself
// (it holds started.json or finished.json) or a directory with cells in
// it, up to maxSourceDepth levels down; a cell's own subdirectories are
// its. A cell in two places, a link to a cell, a name that is no cell ID,
// and a source with no cell are refused. Other links are not followed.
func FindCells(sources ...string) ([]SourceCell, error) {
	seen := map[string]string{}
	var cells []SourceCell
	add := func(dir string) error {
		id := filepath.Base(dir)
		if err := CheckCellID(id); err != nil {
			return &CellError{Dir: dir, Err: err}
		}
		if other, dup := seen[id]; dup {
			return fmt.Errorf("cell %s is in both %s and %s: a night holds each cell once, from one directory", id, other, dir)
		}
		seen[id] = dir
		cells = append(cells, SourceCell{ID: id, Dir: dir})
		return nil
	}
	for _, src := range sources {
		src = filepath.Clean(src)
		info, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("merge source %s: %w", src, err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("merge source %s: not a directory; want a matrix run's results directory or one cell's", src)
		}
		before := len(cells)
		if isCell(src) {
			err = add(src)
		} else {
			err = findCellsIn(src, 1, add)
		}
		if err != nil {
			return nil, err
		}
		if len(cells) == before {
			return nil, fmt.Errorf("merge source %s holds no cell: want a directory with cells in it (each a directory holding %s and %s; a matrix run's --results), or one cell", src, prowjob.StartedName, prowjob.FinishedName)
		}
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].ID < cells[j].ID })
	return cells, nil
}

// findCellsIn adds the cells below dir, depth levels below a source.
func findCellsIn(dir string, depth int, add func(string) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("merge source: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			// Not followed; refused when it stands for a cell (a
			// reports/latest beside the cells is no cell).
			if info, err := os.Stat(p); err == nil && info.IsDir() && isCell(p) {
				return &CellError{Dir: p, Err: errLink}
			}
		case !e.IsDir():
		case isCell(p):
			if err := add(p); err != nil {
				return err
			}
		case depth < maxSourceDepth:
			if err := findCellsIn(p, depth+1, add); err != nil {
				return err
			}
		}
	}
	return nil
}

// isCell: a directory holding started.json or finished.json (of any type:
// ReadCell says what is wrong with them).
func isCell(dir string) bool {
	for _, name := range []string{prowjob.StartedName, prowjob.FinishedName} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// Merge adds the cells of the sources to the store as the night, all of
// them or none: they are copied into a staging directory inside the store
// (never through a link), each copy is checked with ReadCell, and the
// night is renamed into place only when every cell passed. A failed merge
// leaves the store as it was, so it can be run again. The store is
// append-only: a night already in it is refused.
func Merge(store, night string, sources ...string) (int, error) {
	if err := CheckNight(night); err != nil {
		return 0, err
	}
	cells, err := FindCells(sources...)
	if err != nil {
		return 0, err
	}
	final := filepath.Join(store, night)
	if _, err := os.Lstat(final); err == nil {
		return 0, nightExists(night, store)
	}
	if _, err := os.Stat(store); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(store, 0o755); err != nil {
			return 0, fmt.Errorf("creating the results store: %w", err)
		}
		// A first merge that fails leaves no store either.
		defer os.Remove(store) // only when empty
	}
	staging, err := os.MkdirTemp(store, stagingPrefix+night+"-")
	if err != nil {
		return 0, fmt.Errorf("staging night %s: %w", night, err)
	}
	defer os.RemoveAll(staging)
	staged := filepath.Join(staging, night)
	if err := os.Mkdir(staged, 0o755); err != nil {
		return 0, err
	}
	for _, c := range cells {
		if err := stageCell(c.Dir, filepath.Join(staged, c.ID)); err != nil {
			return 0, err
		}
	}
	if err := renameNoReplace(staged, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, nightExists(night, store)
		}
		return 0, fmt.Errorf("moving staged night %s into %s: %w", night, store, err)
	}
	return len(cells), nil
}

func nightExists(night, store string) error {
	return fmt.Errorf("night %s is already in %s: the store is append-only and a night is merged once, with all its sources "+
		"(--merge DIR, repeated); give this one another --night", night, store)
}

// renameNoReplace renames old to new unless new exists (rename(2) would
// replace an empty directory).
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY):
		return fs.ErrExist
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
		// A filesystem without RENAME_NOREPLACE: check, then rename.
		if _, err := os.Lstat(to); err == nil {
			return fs.ErrExist
		}
		return os.Rename(from, to)
	}
	return err
}

// stageCell copies the cell src into dst and checks the copy, so that
// what is checked is what the store keeps. Refusals name src's files.
func stageCell(src, dst string) error {
	d, err := openNoFollow(nil, src, unix.O_DIRECTORY)
	if err != nil {
		return &CellError{Dir: src, Err: err}
	}
	defer d.Close()
	err = copyTree(d, dst, func(rel, target string) error {
		if linkLeaves(rel, target) {
			return fmt.Errorf("a symbolic link to %q, out of the cell", target)
		}
		return nil // a link inside the cell (reports/latest) is left out: the store holds no links
	})
	if err != nil {
		return relocate(err, dst, src)
	}
	if _, err := ReadCell(dst); err != nil {
		return relocate(err, dst, src)
	}
	return nil
}

// relocate makes a CellError about the staged copy name the source.
func relocate(err error, staged, src string) error {
	var ce *CellError
	if errors.As(err, &ce) {
		return &CellError{Dir: src, File: ce.File, Err: ce.Err}
	}
	return fmt.Errorf("%s: %w", src, err)
}

// linkLeaves says whether a link at rel (relative to a tree's root)
// pointing at target leaves the tree as written. Links are never followed
// or copied either way; this only tells a link that points out (refused)
// from one that points in (left out).
func linkLeaves(rel, target string) bool {
	return filepath.IsAbs(target) || !filepath.IsLocal(filepath.Join(filepath.Dir(rel), target))
}

// copyTree copies the directory open as src into dst (created, as every
// directory below it): directories and regular files, read through file
// descriptors without following a link, so that nothing outside src is
// read even while src changes. A link is handed to onLink (an error
// refuses the tree, nil leaves the link out); a FIFO, socket or device is
// refused. Errors are *CellError relative to src.
func copyTree(src *os.File, dst string, onLink func(rel, target string) error) error {
	return copyDir(src, dst, "", onLink)
}

// copyDir copies src, the directory rel of the tree copied to root.
func copyDir(src *os.File, root, rel string, onLink func(rel, target string) error) error {
	dst := filepath.Join(root, rel)
	refuse := func(name string, err error) error {
		return &CellError{Dir: root, File: filepath.Join(rel, name), Err: err}
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return refuse("", err)
	}
	ents, err := src.ReadDir(-1)
	if err != nil {
		return refuse("", err)
	}
	for _, e := range ents {
		name := e.Name()
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			target, err := readlinkAt(src, name)
			if err != nil {
				return refuse(name, err)
			}
			if err := onLink(filepath.Join(rel, name), target); err != nil {
				return refuse(name, err)
			}
		case t.IsDir():
			sub, err := openNoFollow(src, name, unix.O_DIRECTORY)
			if err != nil {
				return refuse(name, err)
			}
			err = copyDir(sub, root, filepath.Join(rel, name), onLink)
			sub.Close()
			if err != nil {
				return err
			}
		case t.IsRegular():
			if err := copyFile(src, name, filepath.Join(dst, name)); err != nil {
				return refuse(name, err)
			}
		default:
			return refuse(name, fmt.Errorf("a %s: a cell holds only files and directories", kind(t)))
		}
	}
	return nil
}

// copyFile copies the regular file name in dir to dst (new), executable
// when the source is.
func copyFile(dir *os.File, name, dst string) error {
	in, err := openNoFollow(dir, name, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("a %s, not a regular file", kind(info.Mode()))
	}
	mode := os.FileMode(0o644)
	if info.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func readlinkAt(dir *os.File, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
	if err != nil {
		return "", err
	}
	return strings.Clone(string(buf[:n])), nil
}
