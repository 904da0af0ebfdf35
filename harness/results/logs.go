package results

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/atomicfile"
)

// The store as Prow's jobs, what TestGrid and Spyglass read: each cell is a
// job, each night it ran a build of it, at logs/<job>/<build>/ (started.json,
// finished.json, artifacts/junit_<cell>.xml and the rest of the cell), with
// logs/<job>/latest-build.txt naming the newest build. TestGrid lists a
// job's builds as the directories under it, newest first in natural order,
// and takes only builds greater than those it has; Deck's job history
// reads latest-build.txt and the directories whose names parse as
// unsigned integers, from 1. So build IDs are decimal numbers, greater
// for a later night, and a night keeps its ID when nights are added.
const (
	LogsDir         = "logs"
	LatestBuildFile = "latest-build.txt"
)

// BuildIDs numbers the nights for Prow: a night's ID is the Unix time its
// first cell started (what orders the nights, so it never changes once
// the night is merged), raised to one more than the night before when
// two nights started in the same second. nights is in the order Load gives.
func BuildIDs(nights []string, byNight map[string]map[string]Entry) map[string]uint64 {
	ids := map[string]uint64{}
	var last uint64
	for _, n := range nights {
		var first int64
		for _, e := range byNight[n] {
			if first == 0 || (e.Started > 0 && e.Started < first) {
				first = e.Started
			}
		}
		id := uint64(max(first, 1))
		if id <= last {
			id = last + 1
		}
		ids[n], last = id, id
	}
	return ids
}

// WriteLogs writes the store's nights as Prow's jobs under dest/logs
// (which must not exist yet): a copy of every cell at
// logs/<cell>/<build>/, and each job's latest-build.txt. It returns how
// many jobs it wrote.
func WriteLogs(dest string, nights []string, byNight map[string]map[string]Entry) (int, error) {
	root := filepath.Join(dest, LogsDir)
	if _, err := os.Lstat(root); err == nil {
		return 0, fmt.Errorf("%s exists: the jobs are written whole, never over others", root)
	}
	ids := BuildIDs(nights, byNight)
	latest := map[string]uint64{}
	for _, n := range nights {
		cells := make([]string, 0, len(byNight[n]))
		for c := range byNight[n] {
			cells = append(cells, c)
		}
		sort.Strings(cells)
		for _, c := range cells {
			build := strconv.FormatUint(ids[n], 10)
			if err := copyCell(byNight[n][c].Dir, filepath.Join(root, c, build)); err != nil {
				return 0, fmt.Errorf("writing night %s of cell %s as build %s: %w", n, c, build, err)
			}
			latest[c] = ids[n]
		}
	}
	for job, id := range latest {
		if err := atomicfile.Write(filepath.Join(root, job, LatestBuildFile), []byte(strconv.FormatUint(id, 10)+"\n"), 0o644); err != nil {
			return 0, err
		}
	}
	return len(latest), nil
}

// copyCell copies a cell of the store without following links (Merge
// let none in that leave it; any link is copied as nothing).
func copyCell(src, dst string) error {
	d, err := openNoFollow(nil, src, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return copyTree(d, dst, func(string, string) error { return nil })
}

// cellsByNight is the compared entries by night and cell, as Load gave them.
func (c *Comparison) cellsByNight() map[string]map[string]Entry {
	out := map[string]map[string]Entry{}
	for _, r := range c.Rows {
		for n, e := range r.Entries {
			if out[n] == nil {
				out[n] = map[string]Entry{}
			}
			out[n][e.Cell] = e
		}
	}
	return out
}
