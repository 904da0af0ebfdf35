package results

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/prowjob"
)

// The cell reader takes files from other machines: fuzzed, it never
// panics, and whatever it accepts keeps the promises the dashboard and
// the store rely on.

const fuzzCell = "runc-pipe-hang.runc-1.0.0-rc93"

func seedFile(f *testing.F, name string) []byte {
	f.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// seeds are sample-shaped documents and the crafted ones the tests refuse.
func seeds(f *testing.F, sample []byte) [][]byte {
	s := string(sample)
	return [][]byte{sample, sample[:len(sample)/2], []byte(s + "{}"), []byte("null"), []byte(""), []byte("[]"),
		[]byte(strings.Replace(s, fuzzCell, "other", 1)), []byte(strings.Replace(s, `"SUCCESS"`, `"FAILURE"`, 1)),
		[]byte(strings.Replace(s, "20261206T021700-runc-pipe-hang-runc-1.0.0-rc93-ab12", "../../../../etc", 1)),
		[]byte(`{"timestamp":1,"passed":false,"result":"ERROR","metadata":{"cell":"` + fuzzCell + `","k":"-1"}}`)}
}

func FuzzParseStarted(f *testing.F) {
	for _, s := range seeds(f, seedFile(f, "started.json")) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStarted(fuzzCell, data)
		if err != nil {
			return
		}
		if s.Timestamp <= 0 {
			t.Fatalf("accepted timestamp %d", s.Timestamp)
		}
		if c, ok := s.Metadata["cell"]; ok && c != fuzzCell {
			t.Fatalf("accepted metadata.cell %q", c)
		}
		again, _ := json.Marshal(s)
		s2, err := ParseStarted(fuzzCell, again)
		if len(s.Metadata) == 0 {
			s.Metadata = nil // an empty one is left out (omitempty)
		}
		if err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("what was accepted does not read back: %v", err)
		}
	})
}

func FuzzParseFinished(f *testing.F) {
	for _, s := range seeds(f, seedFile(f, "finished.json")) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fin, err := ParseFinished(fuzzCell, data)
		if err != nil {
			return
		}
		checkAcceptedFinished(t, fin)
		again, _ := json.Marshal(fin)
		if f2, err := ParseFinished(fuzzCell, again); err != nil || !reflect.DeepEqual(fin, f2) {
			t.Fatalf("what was accepted does not read back: %v", err)
		}
	})
}

func checkAcceptedFinished(t *testing.T, fin prowjob.Finished) {
	t.Helper()
	if !prowjob.KnownResult(fin.Result) || fin.Passed != (fin.Result == prowjob.ResultSuccess) || fin.Timestamp <= 0 {
		t.Fatalf("accepted result %q passed %t timestamp %d", fin.Result, fin.Passed, fin.Timestamp)
	}
	if fin.Metadata["cell"] != fuzzCell {
		t.Fatalf("accepted metadata.cell %q", fin.Metadata["cell"])
	}
	if r, ok := fin.Metadata["report"]; ok && (r == "" || strings.ContainsAny(r, "/\\") || !filepath.IsLocal(r) || strings.HasPrefix(r, ".")) {
		t.Fatalf("accepted metadata.report %q", r)
	}
}

// FuzzReadCell writes the two files into a cell that also holds a report
// directory and a report link out of it (reports/out -> /etc), and reads
// it: an accepted cell is the directory's, and its report page is a
// regular file reached through directories inside the cell.
func FuzzReadCell(f *testing.F) {
	started, finished := seedFile(f, "started.json"), seedFile(f, "finished.json")
	for _, fin := range seeds(f, finished) {
		f.Add(started, fin)
	}
	link := []byte(strings.Replace(string(finished), "20261206T021700-runc-pipe-hang-runc-1.0.0-rc93-ab12", "out", 1))
	f.Add(started, link)
	f.Fuzz(func(t *testing.T, started, finished []byte) {
		dir := filepath.Join(t.TempDir(), fuzzCell)
		reports := filepath.Join(dir, prowjob.ArtifactsName, reportsDir)
		page := filepath.Join(reports, "20261206T021700-runc-pipe-hang-runc-1.0.0-rc93-ab12", "report.html")
		if err := os.MkdirAll(filepath.Dir(page), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc", filepath.Join(reports, "out")); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{prowjob.StartedName: started, prowjob.FinishedName: finished, page: []byte("<p>report</p>")} {
			if !filepath.IsAbs(name) {
				name = filepath.Join(dir, name)
			}
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		e, err := ReadCell(dir)
		if err != nil {
			var ce *CellError
			if !errors.As(err, &ce) || ce.Dir != dir {
				t.Fatalf("refusal %v is not a CellError about %s", err, dir)
			}
			return
		}
		if e.Cell != fuzzCell || e.Dir != dir || e.Started <= 0 || e.Finished < e.Started {
			t.Fatalf("accepted entry %+v", e)
		}
		if e.Report == "" {
			return
		}
		rel, err := filepath.Rel(dir, e.Report)
		if err != nil || !filepath.IsLocal(rel) {
			t.Fatalf("report page %s is not inside the cell", e.Report)
		}
		for p := e.Report; p != dir; p = filepath.Dir(p) {
			info, err := os.Lstat(p)
			if err != nil || info.Mode()&os.ModeSymlink != 0 {
				t.Fatalf("report page %s reached through %s (%v)", e.Report, p, err)
			}
		}
	})
}
