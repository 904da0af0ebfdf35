package results

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The rules the readers apply to a bucket (mirrored from their published
// code, not imported):
//   - TestGrid's updater (util/gcs ListBuilds) takes the "directories"
//     under a job's prefix as its builds, newest first by natural order,
//     and skips objects that are no directory (latest-build.txt); it
//     takes only builds greater than those it has. Its JUnit rule is
//     testGridJUnitRule below, over every object under the build.
//   - Deck's job history (cmd/deck job_history.go) reads a job at
//     logs/<job>: latest-build.txt, trimmed, as an unsigned integer; the
//     build IDs are the directories under the job whose names parse as
//     unsigned integers (from 1); it shows those not above the latest.
var testGridJUnitRule = regexp.MustCompile(`.+/junit((_[^_]+)?(_\d+-\d+)?(_\d+)?|.+)?\.xml$`)

// deckBuildIDs lists a job's builds as Deck does.
func deckBuildIDs(t *testing.T, job string) []uint64 {
	t.Helper()
	ents, err := os.ReadDir(job)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if id, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && id >= 1 {
			ids = append(ids, id)
		} else {
			t.Errorf("%s/%s: a build directory Deck does not take (want a positive decimal number)", job, e.Name())
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	return ids
}

// junitsUnder lists the objects under a build that TestGrid parses as JUnit.
func junitsUnder(t *testing.T, build string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(build, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && testGridJUnitRule.MatchString("logs/job/1/"+strings.TrimPrefix(p, build+"/")) {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Three nights named as the workflow names them (run-9 before run-10),
// a cell missing one night and two nights started in the same second:
// every job has numeric builds that grow night by night, latest-build.txt
// names the newest, each build has its started.json and one JUnit file,
// and adding a night keeps every earlier build's ID.
func TestLogsAreProwJobs(t *testing.T) {
	store := t.TempDir()
	addNight := func(name string, start int64, cells ...string) {
		night(t, store, name, start, func(d string) {
			for _, c := range cells {
				cell(t, d, c, start, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
				writeFile(t, filepath.Join(d, c, "artifacts", "junit_"+c+".xml"), `<testsuites><testsuite name="relapse"><testcase name="`+c+`"/></testsuite></testsuites>`)
				writeFile(t, filepath.Join(d, c, "artifacts", "reports", "run1", "report.json"), "{}")
			}
		})
	}
	addNight("run-9", 1000, "a", "b")
	addNight("run-10", 2000, "a")
	addNight("run-11", 2000, "a", "b")
	write := func() (string, map[string]uint64) {
		nights, byNight, err := Load(store)
		if err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		if n, err := WriteLogs(dest, nights, byNight); err != nil || n != 2 {
			t.Fatalf("WriteLogs: %d jobs, %v; want 2", n, err)
		}
		if _, err := WriteLogs(dest, nights, byNight); err == nil {
			t.Error("WriteLogs over existing logs: no error")
		}
		return dest, BuildIDs(nights, byNight)
	}
	dest, ids := write()
	if !(ids["run-9"] == 1000 && ids["run-10"] == 2000 && ids["run-11"] == 2001) {
		t.Errorf("build IDs = %v; want run-9 1000, run-10 2000, run-11 2001 (a second start in one second is one more)", ids)
	}
	for job, want := range map[string][]uint64{"a": {2001, 2000, 1000}, "b": {2001, 1000}} {
		dir := filepath.Join(dest, LogsDir, job)
		got := deckBuildIDs(t, dir)
		if !slices.Equal(got, want) {
			t.Errorf("job %s builds %v; want %v", job, got, want)
		}
		data, err := os.ReadFile(filepath.Join(dir, LatestBuildFile))
		if err != nil {
			t.Fatal(err)
		}
		if latest, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64); err != nil || latest != want[0] {
			t.Errorf("job %s %s = %q; want %d", job, LatestBuildFile, data, want[0])
		}
		for _, id := range got {
			build := filepath.Join(dir, strconv.FormatUint(id, 10))
			for _, f := range []string{"started.json", "finished.json"} {
				if _, err := os.Stat(filepath.Join(build, f)); err != nil {
					t.Errorf("build %s lacks %s", build, f)
				}
			}
			if js := junitsUnder(t, build); len(js) != 1 || filepath.Base(js[0]) != "junit_"+job+".xml" {
				t.Errorf("build %s: TestGrid would parse %v; want only artifacts/junit_%s.xml", build, js, job)
			}
		}
	}
	// A later night: every earlier build keeps its ID, the new one is greater.
	addNight("run-12", 3000, "a")
	_, again := write()
	for n, id := range ids {
		if again[n] != id {
			t.Errorf("night %s was build %d, now %d", n, id, again[n])
		}
	}
	if again["run-12"] <= ids["run-11"] {
		t.Errorf("run-12 is build %d, not after run-11's %d", again["run-12"], ids["run-11"])
	}
}

// Publish writes the same jobs into the site, beside the dashboard.
func TestPublishWritesLogs(t *testing.T) {
	store := t.TempDir()
	night(t, store, "n1", 1000, func(d string) { reportCell(t, d, "rc94") })
	c := loadCompare(t, store)
	site := filepath.Join(t.TempDir(), "site")
	if _, err := Publish(site, store, "t", c); err != nil {
		t.Fatal(err)
	}
	ids := deckBuildIDs(t, filepath.Join(site, LogsDir, "rc94"))
	if len(ids) != 1 {
		t.Fatalf("site logs/rc94 builds %v; want one", ids)
	}
	if _, err := os.Stat(filepath.Join(site, LogsDir, "rc94", LatestBuildFile)); err != nil {
		t.Error(err)
	}
}
