package results

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/relapse-dev/relapse/harness/prowjob"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// Crafted cells: every way a cell from another machine was shown to
// mislead `relapse results`, refused at merge and, planted in a store
// directly, at load.

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// reportCell is a REPRODUCED cell on a fixed version (a RELAPSE) with its
// report page.
func reportCell(t *testing.T, root, id string) {
	t.Helper()
	m := runcMeta("1.0.0-rc94", "REPRODUCED")
	m["report"] = "run1"
	cell(t, root, id, 1000, false, m)
	writeFile(t, filepath.Join(root, id, "artifacts", "reports", "run1", "report.html"), "<p>report</p>")
	writeFile(t, filepath.Join(root, id, "artifacts", "reports", "run1", "report.json"), "{}")
}

// refusedAtMergeAndLoad merges src (which craft made) and expects a
// refusal naming file and saying want; then plants the same cells in a
// store by hand and expects Load to refuse them alike.
func refusedAtMergeAndLoad(t *testing.T, craft func(dir string), file, want string) {
	t.Helper()
	src, store := t.TempDir(), t.TempDir()
	craft(src)
	_, err := Merge(store, "n1", src)
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), want) {
		t.Errorf("merge: err = %v, want one naming %s and saying %q", err, file, want)
	}
	assertNothingMerged(t, store)
	planted := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(planted, 0o755); err != nil {
		t.Fatal(err)
	}
	craft(filepath.Join(planted, "n1"))
	if _, _, err := Load(planted); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("load: err = %v, want one saying %q", err, want)
	}
}

// assertNothingMerged: the store holds nothing, staging included.
func assertNothingMerged(t *testing.T, store string) {
	t.Helper()
	ents, err := os.ReadDir(store)
	if err != nil {
		t.Fatal(err) // the tests' stores exist before the merge
	}
	for _, e := range ents {
		t.Errorf("a failed merge left %s in the store", e.Name())
	}
}

func TestSecondDirectoryClaimingACellIsRefused(t *testing.T) {
	// Before: the second directory's NOT REPRODUCED replaced the RELAPSE.
	refusedAtMergeAndLoad(t, func(d string) {
		reportCell(t, d, "rc94")
		cell(t, d, "zz-other", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
		finished := filepath.Join(d, "zz-other", "finished.json")
		data, _ := os.ReadFile(finished)
		writeFile(t, finished, strings.Replace(string(data), `"cell":"zz-other"`, `"cell":"rc94"`, 1))
	}, filepath.Join("zz-other", "finished.json"), `metadata.cell "rc94" differs from the directory it is in ("zz-other")`)
}

func TestOneCellInTwoSourcesIsRefused(t *testing.T) {
	a, b, store := t.TempDir(), t.TempDir(), t.TempDir()
	reportCell(t, a, "rc94")
	cell(t, b, "rc94", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	_, err := Merge(store, "n1", a, b)
	if err == nil || !strings.Contains(err.Error(), "cell rc94 is in both "+filepath.Join(a, "rc94")+" and "+filepath.Join(b, "rc94")) {
		t.Errorf("err = %v, want the cell named in both sources", err)
	}
	assertNothingMerged(t, store)
}

func TestTruncatedFinishedJSONIsRefused(t *testing.T) {
	// Before: the cell vanished and results exited 0.
	refusedAtMergeAndLoad(t, func(d string) {
		reportCell(t, d, "rc94")
		finished := filepath.Join(d, "rc94", "finished.json")
		data, _ := os.ReadFile(finished)
		writeFile(t, finished, string(data[:len(data)/2]))
	}, filepath.Join("rc94", "finished.json"), "truncated JSON")
}

func TestMalformedCellFilesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, file, data, want string
	}{
		{"empty", "finished.json", "", "empty"},
		{"two objects", "finished.json", `{"timestamp":1030,"passed":true,"result":"SUCCESS","metadata":{"cell":"c"}}{}`, "text after the JSON object"},
		{"unknown field", "finished.json", `{"timestamp":1030,"passed":true,"result":"SUCCESS","metadata":{"cell":"c"},"extra":1}`, `unknown field "extra"`},
		{"passed disagrees", "finished.json", `{"timestamp":1030,"passed":true,"result":"FAILURE","metadata":{"cell":"c"}}`, "passed is true with result FAILURE"},
		{"an aborted cell that passed", "finished.json", `{"timestamp":1030,"passed":true,"result":"ABORTED","metadata":{"cell":"c"}}`, "passed is true with result ABORTED"},
		{"repo-commit not a string", "started.json", `{"timestamp":1000,"repo-commit":42}`, "not the JSON relapse writes"},
		{"unknown result", "finished.json", `{"timestamp":1030,"passed":false,"result":"MAYBE","metadata":{"cell":"c"}}`, `result "MAYBE"`},
		{"no cell", "finished.json", `{"timestamp":1030,"passed":true,"result":"SUCCESS","metadata":{}}`, `metadata.cell ""`},
		{"unknown verdict", "finished.json", `{"timestamp":1030,"passed":true,"result":"SUCCESS","metadata":{"cell":"c","verdict":"YES"}}`, `metadata.verdict "YES"`},
		{"k over n", "finished.json", `{"timestamp":1030,"passed":true,"result":"SUCCESS","metadata":{"cell":"c","k":"5","n":"2"}}`, "more than metadata.n"},
		{"finished before started", "finished.json", `{"timestamp":999,"passed":true,"result":"SUCCESS","metadata":{"cell":"c"}}`, "before started.json"},
		{"nested metadata", "finished.json", `{"timestamp":1030,"passed":true,"result":"SUCCESS","metadata":{"cell":{"x":1}}}`, "not the JSON relapse writes"},
		{"null", "started.json", `null`, "timestamp 0"},
		{"started for another cell", "started.json", `{"timestamp":1000,"metadata":{"cell":"d"}}`, `metadata.cell "d" differs`},
		{"too big", "started.json", `{"timestamp":1000,"node":"` + strings.Repeat("x", maxJSON) + `"}`, "more than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refusedAtMergeAndLoad(t, func(d string) {
				cell(t, d, "c", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
				writeFile(t, filepath.Join(d, "c", tc.file), tc.data)
			}, filepath.Join("c", tc.file), tc.want)
		})
	}
}

func TestSymlinkedCellFilesAreRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "elsewhere.json")
	writeFile(t, outside, `{"timestamp":1030,"passed":true,"result":"SUCCESS","metadata":{"cell":"c","verdict":"NOT REPRODUCED"}}`)
	for _, file := range []string{"finished.json", "started.json"} {
		t.Run(file, func(t *testing.T) {
			// Before: a finished.json linked out of the tree was read.
			refusedAtMergeAndLoad(t, func(d string) {
				cell(t, d, "c", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
				os.Remove(filepath.Join(d, "c", file))
				symlink(t, outside, filepath.Join(d, "c", file))
			}, filepath.Join("c", file), "a symbolic link")
		})
	}
	t.Run("the cell directory", func(t *testing.T) {
		target := t.TempDir()
		cell(t, target, "c", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
		refusedAtMergeAndLoad(t, func(d string) {
			cell(t, d, "ok", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
			symlink(t, filepath.Join(target, "c"), filepath.Join(d, "c"))
		}, "c", "a symbolic link")
	})
	t.Run("a FIFO", func(t *testing.T) {
		refusedAtMergeAndLoad(t, func(d string) {
			cell(t, d, "c", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
			os.Remove(filepath.Join(d, "c", "finished.json"))
			if err := syscall.Mkfifo(filepath.Join(d, "c", "finished.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, filepath.Join("c", "finished.json"), "a FIFO")
	})
}

func TestReportPageLinkedOutIsRefused(t *testing.T) {
	// Before: a report.html linked to /etc/passwd was linked from the
	// dashboard.
	page := filepath.Join("rc94", "artifacts", "reports", "run1", "report.html")
	refusedAtMergeAndLoad(t, func(d string) {
		reportCell(t, d, "rc94")
		os.Remove(filepath.Join(d, page))
		symlink(t, "/etc/passwd", filepath.Join(d, page))
	}, page, "a symbolic link")
	// In the store (planted), the page itself is what is refused.
	store := t.TempDir()
	reportCell(t, filepath.Join(store, "n1"), "rc94")
	os.Remove(filepath.Join(store, "n1", page))
	symlink(t, "/etc/passwd", filepath.Join(store, "n1", page))
	if _, _, err := Load(store); err == nil || !strings.Contains(err.Error(), page+": a symbolic link") {
		t.Errorf("load: err = %v", err)
	}
	// A linked directory on the way to the page, pointing inside the cell.
	store = t.TempDir()
	reportCell(t, filepath.Join(store, "n1"), "rc94")
	reports := filepath.Join(store, "n1", "rc94", "artifacts", "reports")
	if err := os.Rename(filepath.Join(reports, "run1"), filepath.Join(reports, "target")); err != nil {
		t.Fatal(err)
	}
	symlink(t, "target", filepath.Join(reports, "run1"))
	if _, _, err := Load(store); err == nil || !strings.Contains(err.Error(), "reports/run1: a symbolic link") {
		t.Errorf("load with a linked report directory: err = %v", err)
	}
}

func TestReportOutsideTheCellIsRefused(t *testing.T) {
	// Before: metadata.report with ../ made links outside the store.
	for _, bad := range []string{"../../../../etc", "..", "run1/../../x", "/etc", "a/b", ".hidden", "run\n1"} {
		t.Run(bad, func(t *testing.T) {
			refusedAtMergeAndLoad(t, func(d string) {
				m := runcMeta("1.0.0-rc94", "REPRODUCED")
				m["report"] = bad
				cell(t, d, "c", 1000, true, m)
			}, filepath.Join("c", "finished.json"), "metadata.report")
		})
	}
}

func TestLinksInsideArtifacts(t *testing.T) {
	// One that leaves the cell is refused.
	refusedAtMerge := func(target, want string) {
		src, store := t.TempDir(), t.TempDir()
		reportCell(t, src, "rc94")
		symlink(t, target, filepath.Join(src, "rc94", "artifacts", "logs", "x"))
		_, err := Merge(store, "n1", src)
		if err == nil || !strings.Contains(err.Error(), filepath.Join("rc94", "artifacts", "logs", "x")+": "+want) {
			t.Errorf("link to %s: err = %v", target, err)
		}
		assertNothingMerged(t, store)
	}
	refusedAtMerge("/etc/shadow", `a symbolic link to "/etc/shadow", out of the cell`)
	refusedAtMerge("../../../../outside", `a symbolic link to "../../../../outside", out of the cell`)
	// reports/latest (what relapse itself makes) is left out.
	src, store := t.TempDir(), t.TempDir()
	reportCell(t, src, "rc94")
	symlink(t, "run1", filepath.Join(src, "rc94", "artifacts", "reports", "latest"))
	if n, err := Merge(store, "n1", src); err != nil || n != 1 {
		t.Fatalf("merge with reports/latest: %d, %v", n, err)
	}
	if _, err := os.Lstat(filepath.Join(store, "n1", "rc94", "artifacts", "reports", "latest")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the store holds reports/latest (%v): it holds no links", err)
	}
	if _, err := os.Stat(filepath.Join(store, "n1", "rc94", "artifacts", "reports", "run1", "report.json")); err != nil {
		t.Errorf("the report was not copied: %v", err)
	}
}

func TestFailedMergeLeavesNothingAndCanBeRetried(t *testing.T) {
	// Before: a merge failing halfway kept part of the night and refused
	// the retry.
	src, store := t.TempDir(), t.TempDir()
	for _, id := range []string{"a", "b", "d"} {
		cell(t, src, id, 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	}
	cell(t, src, "c", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	good, _ := os.ReadFile(filepath.Join(src, "c", "finished.json"))
	writeFile(t, filepath.Join(src, "c", "finished.json"), string(good[:10]))
	if _, err := Merge(store, "n1", src); err == nil {
		t.Fatal("a merge with a truncated cell succeeded")
	}
	assertNothingMerged(t, store)
	fresh := filepath.Join(t.TempDir(), "store")
	if _, err := Merge(fresh, "n1", src); err == nil {
		t.Fatal("a merge with a truncated cell succeeded")
	}
	if _, err := os.Lstat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed first merge left the store directory %s (%v)", fresh, err)
	}
	writeFile(t, filepath.Join(src, "c", "finished.json"), string(good))
	if n, err := Merge(store, "n1", src); err != nil || n != 4 {
		t.Fatalf("retry: %d, %v", n, err)
	}
	nights, byNight, err := Load(store)
	if err != nil || len(nights) != 1 || len(byNight["n1"]) != 4 {
		t.Fatalf("after the retry: %v %d cells, %v", nights, len(byNight["n1"]), err)
	}
	// Append-only: the night is not merged twice, and a refusal changes nothing.
	if _, err := Merge(store, "n1", src); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("second merge of n1: %v", err)
	}
	if ents, _ := os.ReadDir(store); len(ents) != 1 {
		t.Errorf("the store holds %d entries, want only n1", len(ents))
	}
}

func TestHostileCellIDsAreRefused(t *testing.T) {
	// Before: a cell ID with a newline put ::error:: at the start of a
	// line of results' output.
	for _, id := range []string{"x\n::error::forged", "esc\x1b[2Jcell", "::error::x", ".hidden", "-flag", "a b", "ünï"} {
		if err := CheckCellID(id); err == nil {
			t.Errorf("CheckCellID(%q) accepted it", id)
		} else if strings.ContainsAny(err.Error(), "\n\x1b") {
			t.Errorf("CheckCellID(%q)'s error carries the control characters: %q", id, err)
		}
	}
	for _, id := range []string{"x\n::error::forged", "esc\x1b[2Jcell"} {
		refusedAtMergeAndLoad(t, func(d string) {
			cell(t, d, id, 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
		}, textutil.Printable(id)+": cell ID", "cell ID")
		src := t.TempDir()
		cell(t, src, id, 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
		if _, err := Merge(t.TempDir(), "n1", src); err == nil || strings.ContainsAny(err.Error(), "\n\x1b") {
			t.Errorf("the refusal of %q carries its control characters: %q", id, err)
		}
	}
	if err := CheckCellID("runc-pipe-hang.kernel-6.12.provider-qemu.runc-1.0.0-rc93.patch-revert_2871"); err != nil {
		t.Errorf("a matrix cell ID was refused: %v", err)
	}
}

func TestUnfinishedCellIsAnError(t *testing.T) {
	store := t.TempDir()
	night(t, store, "n0", 500, func(d string) {
		cell(t, d, "killed", 500, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	})
	night(t, store, "n1", 1000, func(d string) {
		cell(t, d, "done", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
		cell(t, d, "killed", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
		os.Remove(filepath.Join(d, "killed", "finished.json"))
	})
	nights, byNight, err := Load(store)
	if err != nil {
		t.Fatal(err)
	}
	r := rowOf(t, Compare(nights, byNight), "killed")
	if strings.Join(r.Flags, ",") != FlagFailing || !strings.Contains(strings.Join(r.Why, ";"), "never finished") {
		t.Errorf("a cell without finished.json: flags %v, why %v; want FAILING, never finished", r.Flags, r.Why)
	}
	if r.Bug != "containerd#5261" || r.Label != "runc 1.0.0-rc94" {
		t.Errorf("the unfinished night's row is described as bug %q, label %q; want the earlier night's", r.Bug, r.Label)
	}
}

func TestMergeSources(t *testing.T) {
	store := t.TempDir()
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "job-cluster", "report.json"), "{}")
	if _, err := Merge(store, "n1", empty); err == nil || !strings.Contains(err.Error(), "holds no cell") {
		t.Errorf("a source with no cell: %v", err)
	}
	// An Indexed Job's layout (cell-<index>/<cell>), with the job
	// cluster's reports and their latest link beside the cells.
	job := t.TempDir()
	cell(t, filepath.Join(job, "cell-0"), "a", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	cell(t, filepath.Join(job, "cell-1"), "b", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	writeFile(t, filepath.Join(job, "job-cluster", "run1", "report.json"), "{}")
	symlink(t, "run1", filepath.Join(job, "job-cluster", "latest"))
	if cells, err := FindCells(job); err != nil || len(cells) != 2 {
		t.Errorf("an Indexed Job's results: %v, %v", cells, err)
	}
	// A link to a cell is refused wherever it is.
	symlink(t, filepath.Join(job, "cell-1", "b"), filepath.Join(job, "cell-2", "c"))
	if _, err := FindCells(job); err == nil || !strings.Contains(err.Error(), filepath.Join("cell-2", "c")+": a symbolic link") {
		t.Errorf("a link to a cell below the source: %v", err)
	}
	one := t.TempDir()
	cell(t, one, "solo", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	if n, err := Merge(store, "n1", filepath.Join(one, "solo")); err != nil || n != 1 {
		t.Errorf("a cell given as the source: %d, %v", n, err)
	}
	for _, bad := range []string{"n\n2", "2026/12", "", "x\x1b"} {
		if _, err := Merge(store, bad, one); err == nil {
			t.Errorf("night %q accepted", bad)
		}
	}
}

func TestPublishCopiesWhatTheDashboardLinks(t *testing.T) {
	store := t.TempDir()
	night(t, store, "n1", 1000, func(d string) {
		reportCell(t, d, "rc94")
		cell(t, d, "noreport", 1000, true, runcMeta("1.0.0-rc92", "NOT REPRODUCED"))
	})
	nights, byNight, err := Load(store)
	if err != nil {
		t.Fatal(err)
	}
	c := Compare(nights, byNight)
	site := filepath.Join(t.TempDir(), "site")
	n, err := Publish(site, store, "t", c)
	if err != nil || n != 1 {
		t.Fatalf("Publish: %d, %v", n, err)
	}
	page, err := os.ReadFile(filepath.Join(site, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	const link = `href="n1/rc94/artifacts/reports/run1/report.html"`
	if !strings.Contains(string(page), link) {
		t.Fatalf("index.html lacks %s", link)
	}
	for _, f := range []string{"report.html", "report.json"} {
		if _, err := os.Stat(filepath.Join(site, "n1", "rc94", "artifacts", "reports", "run1", f)); err != nil {
			t.Errorf("the site lacks the linked report's %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(site, "n1", "rc94", "finished.json")); err == nil {
		t.Error("the site carries a cell's finished.json: it holds only what the page links")
	}
	if _, err := Publish(site, store, "t", c); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("publishing into a non-empty site: %v", err)
	}
}

func TestStoreHoldingWhatMergeWouldNotMakeIsRefused(t *testing.T) {
	for name, plant := range map[string]func(t *testing.T, store string){
		"a linked night": func(t *testing.T, store string) {
			elsewhere := t.TempDir()
			cell(t, elsewhere, "c", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
			symlink(t, elsewhere, filepath.Join(store, "n2"))
		},
		"a night named with a newline": func(t *testing.T, store string) {
			cell(t, filepath.Join(store, "n\n::error::x"), "c", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
		},
		"a file among the cells": func(t *testing.T, store string) {
			writeFile(t, filepath.Join(store, "n1", "notes.txt"), "x")
		},
		"an empty night": func(t *testing.T, store string) {
			if err := os.Mkdir(filepath.Join(store, "n3"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			store := t.TempDir()
			night(t, store, "n1", 1000, func(d string) {
				cell(t, d, "ok", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
			})
			if _, _, err := Load(store); err != nil {
				t.Fatalf("the store before planting: %v", err)
			}
			plant(t, store)
			if _, _, err := Load(store); err == nil || !strings.Contains(err.Error(), "nothing was compared") {
				t.Errorf("Load = %v, want a refusal", err)
			}
		})
	}
	// What is not a night: the dashboard beside them, a killed merge's staging.
	store := t.TempDir()
	night(t, store, "n1", 1000, func(d string) {
		cell(t, d, "ok", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	})
	writeFile(t, filepath.Join(store, "dashboard.html"), "<p>")
	writeFile(t, filepath.Join(store, stagingPrefix+"n2-123", "n2", "junk"), "x")
	if nights, _, err := Load(store); err != nil || len(nights) != 1 {
		t.Errorf("Load = %v, %v; want n1 alone", nights, err)
	}
}

func TestProwResultsAndRepoCommitAreRead(t *testing.T) {
	// What relapse matrix writes since it keeps to Prow's values: an
	// interrupted cell is ABORTED, relapse's own failure a FAILURE with
	// metadata.error, and started.json names the relapse commit.
	for _, tc := range []struct {
		name, result string
		meta         map[string]string
		errored      bool
	}{
		{"aborted", "ABORTED", map[string]string{"failure": "interrupted before a verdict"}, true},
		{"relapse failed", "FAILURE", map[string]string{"error": "building runc failed"}, true},
		{"the bug's failure", "FAILURE", map[string]string{"failure": "verdict contradicts the affected range"}, false},
		{"an older night's ERROR", "ERROR", map[string]string{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "c")
			tc.meta["cell"] = "c"
			fin, _ := json.Marshal(map[string]any{"timestamp": 1030, "passed": false, "result": tc.result, "metadata": tc.meta})
			writeFile(t, filepath.Join(dir, prowjob.StartedName), `{"timestamp":1000,"repo-commit":"0123456789abcdef0123456789abcdef01234567","metadata":{"cell":"c"}}`)
			writeFile(t, filepath.Join(dir, prowjob.FinishedName), string(fin))
			e, err := ReadCell(dir)
			if err != nil {
				t.Fatal(err)
			}
			if e.Result != tc.result || e.Errored() != tc.errored || verdictClass(e) != map[bool]string{true: "error", false: "fail"}[tc.errored] {
				t.Errorf("result %s errored %v class %s; want %s, %v", e.Result, e.Errored(), verdictClass(e), tc.result, tc.errored)
			}
		})
	}
}
