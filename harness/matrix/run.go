package matrix

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Options says where a matrix run writes and how it runs.
type Options struct {
	// Results receives one directory per cell (Prow's layout).
	Results string
	// Parallel is how many cells running in VMs of their own may run at
	// once (cells that change this host always run one at a time).
	Parallel int
	// LockWait is how long a cell waits for the host lock.
	LockWait time.Duration
	CacheDir string
	Log      io.Writer
}

// Started is Prow's started.json.
type Started struct {
	Timestamp int64             `json:"timestamp"`
	Node      string            `json:"node,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// Finished is Prow's finished.json: TestGrid shows its metadata as columns.
type Finished struct {
	Timestamp int64             `json:"timestamp"`
	Passed    bool              `json:"passed"`
	Result    string            `json:"result"`
	Metadata  map[string]string `json:"metadata"`
}

// Outcome is one cell's run.
type Outcome struct {
	Cell   Cell
	Report *report.Report
	Dir    string
	Err    error
}

// Run executes the cells. Cells that change this host run one after
// another in ID order; cells in VMs of their own run beside them, up to
// Parallel at a time.
func Run(ctx context.Context, cells []Cell, o Options) []Outcome {
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	outs := make([]Outcome, len(cells))
	one := func(i int) {
		if ctx.Err() != nil {
			outs[i] = Outcome{Cell: cells[i], Err: ctx.Err()}
			return
		}
		outs[i] = runCell(ctx, cells[i], o)
	}
	var wg sync.WaitGroup
	vmSlots := make(chan struct{}, o.Parallel)
	var host []int
	for i, c := range cells {
		if !c.OwnVM() {
			host = append(host, i)
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			vmSlots <- struct{}{}
			defer func() { <-vmSlots }()
			one(i)
		}(i)
	}
	for _, i := range host {
		one(i)
	}
	wg.Wait()
	return outs
}

// runCell runs one cell and writes its Prow directory.
func runCell(ctx context.Context, c Cell, o Options) Outcome {
	dir := filepath.Join(o.Results, c.ID)
	out := Outcome{Cell: c, Dir: dir}
	artifacts := filepath.Join(dir, "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		out.Err = err
		return out
	}
	host, _ := os.Hostname()
	if err := writeJSON(filepath.Join(dir, "started.json"), Started{Timestamp: time.Now().Unix(), Node: host,
		Metadata: map[string]string{"cell": c.ID, "scenario": c.Scenario}}); err != nil {
		out.Err = err
		return out
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "matrix: cell %s\n", c.ID)
	}
	opts := c.options()
	opts.ReportsDir, opts.CacheDir, opts.LockWait, opts.Log = filepath.Join(artifacts, "reports"), o.CacheDir, o.LockWait, o.Log
	opts.Invocation = Invocation(c)
	plan, err := experiment.Prepare(ctx, opts)
	if err != nil {
		out.Err = err
		_ = writeJSON(filepath.Join(dir, "finished.json"), Finished{Timestamp: time.Now().Unix(), Result: "ERROR",
			Metadata: map[string]string{"cell": c.ID, "error": err.Error()}})
		return out
	}
	res, err := plan.Execute(ctx)
	if err != nil {
		out.Err = err
	}
	if res != nil && res.Report != nil {
		out.Report = res.Report
		if data, rerr := os.ReadFile(res.Paths.JUnit); rerr == nil {
			_ = os.WriteFile(filepath.Join(artifacts, "junit_"+c.ID+".xml"), data, 0o644)
		}
	}
	f := finished(c, out.Report, out.Err)
	if err := writeJSON(filepath.Join(dir, "finished.json"), f); err != nil && out.Err == nil {
		out.Err = err
	}
	return out
}

// Invocation is the command that runs one cell by hand.
func Invocation(c Cell) string {
	args := []string{"relapse", "repro", "--scenario", c.Scenario}
	for _, k := range sortedKeys(c.Versions) {
		args = append(args, "--version", k+"="+c.Versions[k])
	}
	for _, comp := range sortedKeys(flatten(c.Patches)) {
		for _, p := range c.Patches[comp] {
			args = append(args, "--patch", comp+"="+p)
		}
	}
	for _, k := range sortedKeys(c.Params) {
		args = append(args, "--param", k+"="+c.Params[k])
	}
	if c.Provider != "local" {
		args = append(args, "--provider", c.Provider)
	}
	if c.Kernel != "" {
		args = append(args, "--kernel", c.Kernel)
	}
	if c.Systemd != "" {
		args = append(args, "--systemd", c.Systemd)
	}
	if c.Repeat > 0 {
		args = append(args, "--repeat", strconv.Itoa(c.Repeat))
	}
	return strings.Join(args, " ")
}

// finished is the cell's finished.json: passed unless the verdict
// contradicts the affected range, a change was not put back, or relapse
// failed; the metadata are what TestGrid shows as columns.
func finished(c Cell, r *report.Report, err error) Finished {
	f := Finished{Timestamp: time.Now().Unix(), Metadata: map[string]string{"cell": c.ID, "scenario": c.Scenario, "provider": c.Provider}}
	if c.Kernel != "" {
		f.Metadata["kernel"] = c.Kernel
	}
	if c.Systemd != "" {
		f.Metadata["systemd"] = c.Systemd
	}
	if c.Canary {
		f.Metadata["canary"] = "true"
	}
	// The speed says which selection (make nightly's fast cells, CI's
	// slow ones) a night must hold the cell in: a canary missing from a
	// night that ran its speed fails it.
	if c.Speed != "" {
		f.Metadata["speed"] = c.Speed
	}
	if r == nil {
		f.Result = "ERROR"
		if err != nil {
			f.Metadata["error"] = err.Error()
		}
		return f
	}
	v := r.Verdict
	md := f.Metadata
	md["bug"], md["fix"], md["affected"], md["bug_title"] = r.Bug.ID, r.Bug.Fix, r.Bug.Affected, r.Bug.Title
	md["verdict"], md["expected"], md["cause"] = string(v.Result), string(v.Expected), v.Cause
	md["component"], md["version"], md["build"] = v.Component, v.Version, v.Build
	md["k"], md["n"] = strconv.Itoa(v.Rate.K), strconv.Itoa(v.Rate.N)
	md["rate_lo"], md["rate_hi"] = strconv.FormatFloat(v.Rate.Lo, 'f', 3, 64), strconv.FormatFloat(v.Rate.Hi, 'f', 3, 64)
	md["report"] = r.RunID
	if r.Variant != "" {
		md["variant"] = r.Variant
	}
	md["host_kernel"] = r.Host.Kernel
	var reverts []string
	for _, a := range r.Components {
		md["version_"+a.Component] = a.Version
		md["sum_"+a.Component] = a.Sum
		if c := a.CommitStamp(); !strings.HasPrefix(c, "module-") {
			md["commit_"+a.Component] = strings.TrimSuffix(c, "+patched")
		}
		// A version a selector chose, or a source tree's HEAD: the history
		// keeps one row per selector (or source) and shows what it
		// resolved to each night.
		if sel, how := selection(a.Resolved); sel != "" {
			md["selector_"+a.Component], md["selected_"+a.Component] = sel, how
			if a.Component == v.Component {
				md["selector"], md["selected"] = sel, how
			}
		}
		var ps []string
		for _, p := range a.Patches {
			ps = append(ps, p.Name+"@"+p.SHA256[:12])
			if p.RevertsFix != "" {
				reverts = append(reverts, p.RevertsFix)
			}
		}
		if len(ps) > 0 {
			sort.Strings(ps)
			md["patches_"+a.Component] = strings.Join(ps, ",")
		}
	}
	// The fixes the patches take out: a cell reverting its bug's own fix
	// is a canary whatever its matrix said (relapse results reads this).
	if len(reverts) > 0 {
		sort.Strings(reverts)
		md["reverts"] = strings.Join(reverts, ",")
	}
	for k, v := range r.Observed {
		md["version_"+k] = v
	}
	switch {
	case len(r.Unrestored()) > 0:
		f.Result = "FAILURE"
		md["failure"] = "host change not put back"
	case v.Cause == report.CauseEvidence && v.Expected != "" && !v.Matches:
		f.Result = "FAILURE"
		md["failure"] = "verdict contradicts the affected range"
	case v.Cause == report.CauseSetup || v.Cause == report.CauseInterrupted:
		f.Result = "ERROR"
	default:
		f.Result, f.Passed = "SUCCESS", true
	}
	return f
}

// selection is what chose a component's version and how it resolved:
// a selector (latest = v1.5.3 ...), or a source tree at its HEAD; "" for
// a version named as such.
func selection(r versions.Resolved) (selector, how string) {
	switch {
	case r.Selected != "":
		return r.Requested, r.Selected
	case r.Source != nil:
		how = r.Source.Dir + " at " + r.Source.Commit
		if r.Source.Describe != "" {
			how += " (" + r.Source.Describe + ")"
		}
		return r.Requested, how
	}
	return "", ""
}

// writeJSON writes v to a temporary file beside path and renames it into
// place: a cell killed while writing leaves the old file or none, never a
// truncated one (relapse results refuses a truncated finished.json).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
