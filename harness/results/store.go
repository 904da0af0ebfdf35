package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/relapse-dev/relapse/harness/report"
)

// Merge copies the cell directories under each source (a matrix run's
// results) into the store as night. Nothing already in the store is
// overwritten: a cell merged twice into one night is an error.
func Merge(store, night string, sources ...string) (int, error) {
	if strings.ContainsAny(night, "/\\") || night == "" || strings.HasPrefix(night, ".") {
		return 0, fmt.Errorf("night %q: want a plain name such as 2026-12-01 or a CI run number", night)
	}
	n := 0
	for _, src := range sources {
		cells, err := cellDirs(src)
		if err != nil {
			return n, err
		}
		for _, c := range cells {
			dst := filepath.Join(store, night, filepath.Base(c))
			if _, err := os.Stat(dst); err == nil {
				return n, fmt.Errorf("cell %s is already in night %s of %s: the store is append-only", filepath.Base(c), night, store)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return n, err
			}
			if out, err := exec.Command("cp", "-a", c, dst).CombinedOutput(); err != nil {
				return n, fmt.Errorf("copying %s into the store: %w\n%s", c, err, out)
			}
			n++
		}
	}
	return n, nil
}

// cellDirs finds the cell directories (those with a finished.json) under dir.
func cellDirs(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "artifacts" {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "finished.json" {
			out = append(out, filepath.Dir(p))
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no results in %s", dir)
	}
	return out, err
}

// Entry is one cell of one night.
type Entry struct {
	Night    string
	Cell     string
	Dir      string
	Started  int64
	Finished int64
	Passed   bool
	Result   string
	Meta     map[string]string
}

// Verdict is the entry's verdict ("" when the cell did not get one).
func (e Entry) Verdict() report.Result { return report.Result(e.Meta["verdict"]) }

// Build identifies what ran: every component's version, module sum and
// patches, and the kernel. The same build on two nights with two verdicts
// is flaky.
func (e Entry) Build() string {
	var parts []string
	for k, v := range e.Meta {
		if strings.HasPrefix(k, "version_") || strings.HasPrefix(k, "sum_") || strings.HasPrefix(k, "patches_") || k == "kernel" {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Relapse says whether the entry reproduced the bug on a version at or
// after its fix: outside the affected range and not before it.
func (e Entry) Relapse() bool {
	if e.Verdict() != report.Reproduced || e.Meta["affected"] == "" || e.Meta["version"] == "" {
		return false
	}
	v, err := semver.NewVersion(strings.TrimPrefix(e.Meta["version"], "v"))
	if err != nil {
		return false
	}
	c, err := semver.NewConstraint(e.Meta["affected"])
	if err != nil {
		return false
	}
	return !c.Check(v) && !report.BeforeRange(e.Meta["affected"], v)
}

// ReportPage is the entry's relapse report, if there is one.
func (e Entry) ReportPage() string {
	if e.Meta["report"] == "" {
		return ""
	}
	p := filepath.Join(e.Dir, "artifacts", "reports", e.Meta["report"], "report.html")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Load reads every night of a store, oldest first.
func Load(store string) ([]string, map[string]map[string]Entry, error) {
	nights, err := os.ReadDir(store)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the results store: %w", err)
	}
	type nightInfo struct {
		name  string
		start int64
	}
	var infos []nightInfo
	byNight := map[string]map[string]Entry{}
	for _, n := range nights {
		if !n.IsDir() {
			continue
		}
		cells, err := os.ReadDir(filepath.Join(store, n.Name()))
		if err != nil {
			return nil, nil, err
		}
		entries := map[string]Entry{}
		var first int64
		for _, c := range cells {
			e, err := readEntry(filepath.Join(store, n.Name(), c.Name()))
			if err != nil {
				continue
			}
			e.Night = n.Name()
			entries[e.Cell] = e
			if first == 0 || e.Started < first {
				first = e.Started
			}
		}
		if len(entries) > 0 {
			byNight[n.Name()] = entries
			infos = append(infos, nightInfo{n.Name(), first})
		}
	}
	sort.Slice(infos, func(i, j int) bool {
		if infos[i].start != infos[j].start {
			return infos[i].start < infos[j].start
		}
		return infos[i].name < infos[j].name
	})
	var order []string
	for _, i := range infos {
		order = append(order, i.name)
	}
	return order, byNight, nil
}

func readEntry(dir string) (Entry, error) {
	var st struct {
		Timestamp int64 `json:"timestamp"`
	}
	var fin struct {
		Timestamp int64             `json:"timestamp"`
		Passed    bool              `json:"passed"`
		Result    string            `json:"result"`
		Metadata  map[string]string `json:"metadata"`
	}
	if err := readJSON(filepath.Join(dir, "started.json"), &st); err != nil {
		return Entry{}, err
	}
	if err := readJSON(filepath.Join(dir, "finished.json"), &fin); err != nil {
		return Entry{}, err
	}
	cell := fin.Metadata["cell"]
	if cell == "" {
		cell = filepath.Base(dir)
	}
	return Entry{Cell: cell, Dir: dir, Started: st.Timestamp, Finished: fin.Timestamp, Passed: fin.Passed, Result: fin.Result, Meta: fin.Metadata}, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// NightName is a name for a night that has none: the UTC date and time.
func NightName(t time.Time) string { return t.UTC().Format("2006-01-02T1504") }

// parseInt reads a metadata number (0 when absent).
func parseInt(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
