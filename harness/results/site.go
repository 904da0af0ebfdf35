package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriteDashboard renders the dashboard to path (links relative to its
// directory), replacing the file in one rename so a reader never sees
// half a page.
func WriteDashboard(path, name string, c *Comparison) error {
	var page bytes.Buffer
	if err := Dashboard(&page, name, c, filepath.Dir(path)); err != nil {
		return err
	}
	return writeFileAtomic(path, page.Bytes())
}

// Publish writes a site that can be served as it is (GitHub Pages):
// index.html, the dashboard, and every report directory it links to, at
// the same paths relative to index.html as they have in the store, so
// that no link of the page reaches nothing. Links inside a report
// directory are left out. site must be absent or empty; it returns how
// many reports it copied.
func Publish(site, store, name string, c *Comparison) (int, error) {
	if err := CheckSite(site); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(site, 0o755); err != nil {
		return 0, fmt.Errorf("creating the site: %w", err)
	}
	pages := Linked(c)
	for _, p := range pages {
		dir := filepath.Dir(p)
		rel, err := filepath.Rel(store, dir)
		if err != nil || !filepath.IsLocal(rel) {
			return 0, fmt.Errorf("report %s is not inside the store %s", p, store)
		}
		d, err := openNoFollow(nil, dir, unix.O_DIRECTORY)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", dir, err)
		}
		dst := filepath.Join(site, rel)
		err = os.MkdirAll(filepath.Dir(dst), 0o755)
		if err == nil {
			err = copyTree(d, dst, func(string, string) error { return nil })
		}
		d.Close()
		if err != nil {
			return 0, fmt.Errorf("copying report %s into the site: %w", dir, err)
		}
	}
	var page bytes.Buffer
	if err := Dashboard(&page, name, c, store); err != nil {
		return 0, err
	}
	return len(pages), writeFileAtomic(filepath.Join(site, "index.html"), page.Bytes())
}

// CheckSite says whether dir can receive a site: it does not exist yet or
// is an empty directory (a site is written whole, never over another).
func CheckSite(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != io.EOF {
		return fmt.Errorf("site %s: want a directory that does not exist yet or is empty (it receives the dashboard and the reports it links to)", dir)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
