package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/atomicfile"
)

// WriteDashboard renders the dashboard to path (links relative to its
// directory), replacing the file in one rename so a reader never sees
// half a page.
func WriteDashboard(path, name string, c *Comparison) error {
	var page bytes.Buffer
	if err := Dashboard(&page, name, c, filepath.Dir(path)); err != nil {
		return err
	}
	return atomicfile.Write(path, page.Bytes(), 0o644)
}

// Publish writes a site that can be served as it is (GitHub Pages):
// index.html, the dashboard, and every report directory it links to, at
// the same paths relative to index.html as they have in the store, so
// that no link of the page reaches nothing; and logs/, every night as
// Prow's jobs for TestGrid and Spyglass (WriteLogs). Links inside a report
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
	// TestGrid and Spyglass read the same nights as Prow's jobs (logs/).
	if _, err := WriteLogs(site, c.Nights, c.cellsByNight()); err != nil {
		return 0, err
	}
	var page bytes.Buffer
	if err := Dashboard(&page, name, c, store); err != nil {
		return 0, err
	}
	return len(pages), atomicfile.Write(filepath.Join(site, "index.html"), page.Bytes(), 0o644)
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
