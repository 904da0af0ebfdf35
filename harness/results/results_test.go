package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cell writes one cell directory as a matrix run does.
func cell(t *testing.T, root, id string, start int64, passed bool, meta map[string]string) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(filepath.Join(dir, "artifacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	meta["cell"] = id
	result := "SUCCESS"
	if !passed {
		result = "FAILURE"
	}
	for name, v := range map[string]any{
		"started.json":  map[string]any{"timestamp": start},
		"finished.json": map[string]any{"timestamp": start + 30, "passed": passed, "result": result, "metadata": meta},
	} {
		data, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runcMeta(version, verdict string) map[string]string {
	return map[string]string{"bug": "containerd#5261", "affected": ">=1.0.0-rc93 <1.0.0-rc94", "component": "runc",
		"version": version, "version_runc": version, "sum_runc": "h1:" + version, "verdict": verdict, "k": "1", "n": "1"}
}

func night(t *testing.T, store, name string, start int64, cells func(dir string)) {
	t.Helper()
	src := t.TempDir()
	cells(src)
	if _, err := Merge(store, name, src); err != nil {
		t.Fatal(err)
	}
}

func rowOf(t *testing.T, c *Comparison, id string) Row {
	t.Helper()
	for _, r := range c.Rows {
		if r.Cell == id {
			return r
		}
	}
	t.Fatalf("no row %s", id)
	return Row{}
}

func TestCompareFlagsRelapseFixedFlakyStale(t *testing.T) {
	store := t.TempDir()
	night(t, store, "n1", 1000, func(d string) {
		cell(t, d, "rc93", 1000, true, runcMeta("1.0.0-rc93", "REPRODUCED"))
		cell(t, d, "rc94", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
		cell(t, d, "flaky", 1000, true, runcMeta("1.0.0-rc93", "REPRODUCED"))
		cell(t, d, "fixed", 1000, true, runcMeta("1.0.0-rc93", "REPRODUCED"))
		cell(t, d, "gone", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
	})
	night(t, store, "n2", 2000, func(d string) {
		cell(t, d, "rc93", 2000, true, runcMeta("1.0.0-rc93", "REPRODUCED"))
		cell(t, d, "rc94", 2000, false, runcMeta("1.0.0-rc94", "REPRODUCED"))
		cell(t, d, "flaky", 2000, true, runcMeta("1.0.0-rc93", "INCONCLUSIVE"))
		m := runcMeta("1.0.0-rc93", "NOT REPRODUCED")
		m["patches_runc"] = "fix.patch@abc"
		cell(t, d, "fixed", 2000, true, m)
	})
	nights, byNight, err := Load(store)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(nights, ",") != "n1,n2" {
		t.Fatalf("nights %v", nights)
	}
	c := Compare(nights, byNight)
	for id, want := range map[string]string{
		"rc93":  "",
		"rc94":  "RELAPSE,FAILING,FLAKY", // same build, verdict changed
		"flaky": "FLAKY",
		"fixed": "NEWLY FIXED",
		"gone":  "STALE",
	} {
		if got := strings.Join(rowOf(t, c, id).Flags, ","); got != want {
			t.Errorf("%s: flags %q, want %q (why: %v)", id, got, want, rowOf(t, c, id).Why)
		}
	}
	r := rowOf(t, c, "rc94")
	if r.FirstFail != "n2" || r.LastPass != "n1" {
		t.Errorf("rc94 first fail %q last pass %q, want n2 and n1", r.FirstFail, r.LastPass)
	}
	if len(c.Has(FlagRelapse, false)) != 1 {
		t.Errorf("Has(RELAPSE) = %v", c.Has(FlagRelapse, false))
	}
}

func TestCanaryMustRelapse(t *testing.T) {
	store := t.TempDir()
	night(t, store, "n1", 1000, func(d string) {
		m := runcMeta("1.1.14", "REPRODUCED")
		m["canary"], m["affected"] = "true", ">=1.0.0-rc93 <1.0.0-rc94"
		cell(t, d, "canary-ok", 1000, true, m)
		m2 := runcMeta("1.1.14", "NOT REPRODUCED")
		m2["canary"] = "true"
		cell(t, d, "canary-missed", 1000, true, m2)
	})
	nights, byNight, err := Load(store)
	if err != nil {
		t.Fatal(err)
	}
	c := Compare(nights, byNight)
	if f := rowOf(t, c, "canary-ok").Flags; len(f) != 1 || f[0] != FlagRelapse {
		t.Errorf("canary that relapsed: flags %v", f)
	}
	if f := rowOf(t, c, "canary-missed").Flags; len(f) != 1 || f[0] != FlagCanaryMissed {
		t.Errorf("canary that did not relapse: flags %v", f)
	}
	if len(c.Has(FlagRelapse, true)) != 0 {
		t.Error("Has(RELAPSE, skipCanary) counts a canary")
	}
}

func TestMergeIsAppendOnly(t *testing.T) {
	store, src := t.TempDir(), t.TempDir()
	cell(t, src, "a", 1, true, runcMeta("1.0.0-rc93", "REPRODUCED"))
	if n, err := Merge(store, "n1", src); err != nil || n != 1 {
		t.Fatalf("first merge: %d, %v", n, err)
	}
	if _, err := Merge(store, "n1", src); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("second merge into the same night: %v", err)
	}
	for _, bad := range []string{"", "../x", ".hidden", "a/b"} {
		if _, err := Merge(store, bad, src); err == nil {
			t.Errorf("night %q accepted", bad)
		}
	}
	if _, err := Merge(store, "n2", filepath.Join(src, "missing")); err == nil {
		t.Error("merging a missing directory succeeded")
	}
}

func TestDashboardLinksAndFlags(t *testing.T) {
	store := t.TempDir()
	night(t, store, "n1", 1000, func(d string) {
		m := runcMeta("1.0.0-rc94", "REPRODUCED")
		m["report"], m["bug_title"] = "run1", "runc init hangs <script>"
		cell(t, d, "rc94", 1000, false, m)
		rep := filepath.Join(d, "rc94", "artifacts", "reports", "run1")
		if err := os.MkdirAll(rep, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rep, "report.html"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	nights, byNight, err := Load(store)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Dashboard(&b, "t", Compare(nights, byNight), store); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`href="n1/rc94/artifacts/reports/run1/report.html"`, ">RELAPSE<", "1/1", "&lt;script&gt;", "1 RELAPSE"} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("dashboard carries an unescaped title")
	}
}
