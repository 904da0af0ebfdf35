package matrix

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/prowjob"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/results"
)

// A cell's directory read by TestGrid's published rules (the updater in
// GoogleCloudPlatform/testgrid, mirrored here, not imported):
//   - every object of the build whose name matches testGridJUnit is parsed
//     as JUnit and each of its testcases counted as one run of that test;
//   - a testcase keeps one <failure> and reads properties on itself;
//   - started.json and finished.json metadata show as columns only when
//     their values are strings; result is one of Prow's values.

// testGridJUnit is the file rule TestGrid applies to a build's objects.
var testGridJUnit = regexp.MustCompile(`.+/junit.*\.xml$`)

// prowResults are the result values Prow writes in finished.json.
var prowResults = map[string]bool{prowjob.ResultSuccess: true, prowjob.ResultFailure: true, prowjob.ResultAborted: true}

// relapseOnFixedVersion: 1 of 1 reproduced on a version after the fix, and
// the run left a sysctl changed: the case where TestGrid used to count two
// runs and show only the host change.
func relapseOnFixedVersion() *report.Report {
	at := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	return &report.Report{
		RunID:    "20261206T080000Z-runc-pipe-hang-runc-1.5.3-abcd",
		Scenario: "runc-pipe-hang",
		Started:  at,
		Bug:      report.Bug{ID: "runc#2828", Title: "runc run hangs when the pipe buffer is full", Affected: ">= 1.0.0-rc93, < 1.0.0-rc94", Fix: "runc#2871"},
		Verdict: report.Verdict{Result: report.Reproduced, Component: "runc", Version: "v1.5.3", Cause: report.CauseEvidence,
			Rate: report.NewRate(1, 1), Reason: "runc init blocked writing to a full pipe",
			Expected: report.NotReproduced, ExpectedWhy: "1.5.3 is outside >= 1.0.0-rc93, < 1.0.0-rc94", Matches: false},
		Changes: []report.Change{{Kind: "sysctl", Target: "fs.pipe-user-pages-soft", Before: "16384", Applied: "1", After: "1",
			AppliedAt: at, RestoreNote: "sysctl -w failed: permission denied"}},
	}
}

// writeCell writes the cell's directory as runCell does, with report.Write
// in place of the run.
func writeCell(t *testing.T, root string, c Cell, r *report.Report, commit string) string {
	t.Helper()
	dir := filepath.Join(root, c.ID)
	if err := os.MkdirAll(filepath.Join(dir, "artifacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(filepath.Join(dir, "started.json"), started(c, "node-1", commit, r.Started)); err != nil {
		t.Fatal(err)
	}
	paths, err := report.Write(filepath.Join(dir, "artifacts", "reports", r.RunID), r)
	if err != nil {
		t.Fatal(err)
	}
	if err := endCell(dir, c, r, paths.JUnit, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

type countedJUnit struct {
	Suites []struct {
		Cases []struct {
			Name       string     `xml:"name,attr"`
			Failures   []struct{} `xml:"failure"`
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestCellAsTestGridReadsIt(t *testing.T) {
	c := Cell{ID: "runc-pipe-hang.runc-1.5.3", Scenario: "runc-pipe-hang", Provider: "local", Versions: map[string]string{"runc": "1.5.3"}}
	const commit = "0123456789abcdef0123456789abcdef01234567"
	root := t.TempDir()
	dir := writeCell(t, root, c, relapseOnFixedVersion(), commit)

	// One JUnit file, holding one testcase with one failure: a 1-of-1
	// relapse is one failed run, not "0/2 runs passed".
	var junits []string
	runs := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		object := "logs/relapse-nightly/1/" + filepath.ToSlash(rel) // as the build's object name
		if !testGridJUnit.MatchString(object) {
			return nil
		}
		junits = append(junits, rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc countedJUnit
		if err := xml.Unmarshal(data, &doc); err != nil {
			t.Errorf("%s matches TestGrid's JUnit rule and does not parse: %v", rel, err)
			return nil
		}
		for _, s := range doc.Suites {
			for _, tc := range s.Cases {
				runs++
				if len(tc.Failures) != 1 {
					t.Errorf("%s: testcase %q has %d <failure> elements; TestGrid keeps one, want exactly one", rel, tc.Name, len(tc.Failures))
				}
				props := map[string]string{}
				for _, p := range tc.Properties {
					props[p.Name] = p.Value
				}
				if props["verdict"] != string(report.Reproduced) || props["k"] != "1" || props["n"] != "1" || props["rate_lo"] == "" || props["rate_hi"] == "" {
					t.Errorf("%s: testcase properties %v lack the verdict, k, n and the interval", rel, props)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(c.ID, "artifacts", prowjob.JUnitFile(c.ID))
	if len(junits) != 1 || junits[0] != want || runs != 1 {
		t.Errorf("files TestGrid reads as JUnit: %v holding %d runs; want only %s holding 1", junits, runs, want)
	}
	// The report's own JUnit went into the cell's; the rest of the report stays.
	if _, err := os.Stat(filepath.Join(dir, "artifacts", "reports", relapseOnFixedVersion().RunID, report.HTMLName)); err != nil {
		t.Errorf("the report page is gone: %v", err)
	}

	// started.json: repo-commit, and metadata of strings only.
	st := readJSONMap(t, filepath.Join(dir, "started.json"))
	if st["repo-commit"] != commit {
		t.Errorf("started.json repo-commit = %v, want %s", st["repo-commit"], commit)
	}
	allStrings(t, "started.json", st["metadata"])
	fin := readJSONMap(t, filepath.Join(dir, "finished.json"))
	if r, _ := fin["result"].(string); r != prowjob.ResultFailure || fin["passed"] != false {
		t.Errorf("finished.json result %v passed %v, want FAILURE and false", fin["result"], fin["passed"])
	}
	allStrings(t, "finished.json", fin["metadata"])

	// relapse's own reader takes what relapse matrix writes.
	e, err := results.ReadCell(dir)
	if err != nil {
		t.Fatalf("results.ReadCell refuses the cell relapse matrix wrote: %v", err)
	}
	if e.Result != prowjob.ResultFailure || e.Report == "" || !e.Relapse() {
		t.Errorf("read back: result %s, report %q, relapse %v; want FAILURE, its page, true", e.Result, e.Report, e.Relapse())
	}
}

func TestFinishedResultsAreProwsAndReadBack(t *testing.T) {
	c := Cell{ID: "runc-pipe-hang.runc-1.5.3", Scenario: "runc-pipe-hang", Provider: "local"}
	clean := relapseOnFixedVersion()
	clean.Verdict.Result, clean.Verdict.Rate, clean.Verdict.Matches, clean.Changes = report.NotReproduced, report.NewRate(0, 3), true, nil
	interrupted := relapseOnFixedVersion()
	interrupted.Verdict = report.Verdict{Result: report.Inconclusive, Cause: report.CauseInterrupted, Reason: "interrupted: received interrupt"}
	interrupted.Changes = nil
	setup := relapseOnFixedVersion()
	setup.Verdict = report.Verdict{Result: report.Inconclusive, Cause: report.CauseSetup, Reason: "setup failed: building runc failed"}
	setup.Changes = nil
	tests := []struct {
		name       string
		report     *report.Report
		err        error
		wantResult string
		wantError  bool
	}{
		{"not reproduced as expected", clean, nil, prowjob.ResultSuccess, false},
		{"a relapse with a host change", relapseOnFixedVersion(), nil, prowjob.ResultFailure, false},
		{"interrupted before a verdict", interrupted, nil, prowjob.ResultAborted, true},
		{"relapse's own failure", setup, nil, prowjob.ResultFailure, true},
		{"no report at all", nil, errors.New("preparing: unknown runc version"), prowjob.ResultFailure, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := finished(c, tt.report, tt.err)
			if !prowResults[f.Result] || f.Result != tt.wantResult || f.Passed != (f.Result == prowjob.ResultSuccess) {
				t.Errorf("result %s passed %v, want %s (a value Prow writes) and passed only on SUCCESS", f.Result, f.Passed, tt.wantResult)
			}
			data, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := results.ParseFinished(c.ID, data)
			if err != nil {
				t.Fatalf("results.ParseFinished refuses it: %v\n%s", err, data)
			}
			e := results.Entry{Result: got.Result, Passed: got.Passed, Meta: got.Metadata}
			if e.Errored() != tt.wantError {
				t.Errorf("Errored() = %v, want %v (metadata %v)", e.Errored(), tt.wantError, got.Metadata)
			}
		})
	}
}

func readJSONMap(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// allStrings: TestGrid shows a metadata value as a column only when it
// is a string.
func allStrings(t *testing.T, file string, md any) {
	t.Helper()
	m, ok := md.(map[string]any)
	if !ok || len(m) == 0 {
		t.Fatalf("%s: metadata %v, want an object", file, md)
	}
	for k, v := range m {
		if _, ok := v.(string); !ok {
			t.Errorf("%s: metadata.%s = %v (%T), want a string", file, k, v, v)
		}
	}
}
