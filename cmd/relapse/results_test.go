package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/relapse-dev/relapse/harness/textutil"
)

// writeCell writes a cell directory as relapse matrix does, with the given
// finished.json metadata (cell set to the directory's name).
func writeCell(t *testing.T, root, id string, passed bool, meta map[string]string) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	meta["cell"] = id
	result := map[bool]string{true: "SUCCESS", false: "FAILURE"}[passed]
	for name, v := range map[string]any{
		"started.json":  map[string]any{"timestamp": 1000},
		"finished.json": map[string]any{"timestamp": 1030, "passed": passed, "result": result, "metadata": meta},
	} {
		data, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// results runs `relapse results` as resultsCmd does, with its output
// through the same LogWriters.
func results(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	o, e := textutil.NewLogWriter(&out), textutil.NewLogWriter(&errOut)
	status = runResults(args, o, e)
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	return status, out.String(), errOut.String()
}

// assertLogSafe fails on a line a CI runner would read as a workflow
// command or a terminal would act on.
func assertLogSafe(t *testing.T, what, text string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") || strings.Contains(line, "##[") {
			t.Errorf("%s has a workflow command line: %q", what, line)
		}
		if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) || strings.Contains(line, "\t") {
			t.Errorf("%s has a control character: %q", what, line)
		}
	}
}

func TestResultsUsageErrorsExit2(t *testing.T) {
	src := t.TempDir()
	writeCell(t, src, "c", true, map[string]string{"verdict": "NOT REPRODUCED"})
	store := filepath.Join(t.TempDir(), "store")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"positional argument", []string{"--store", store, src}, "unexpected argument"},
		{"night without merge", []string{"--store", store, "--night", "n1"}, "--night names the night being merged"},
		{"night with a slash", []string{"--store", store, "--merge", src, "--night", "../n1"}, `--night: night "../n1"`},
		{"night with a newline", []string{"--store", store, "--merge", src, "--night", "n\n::error::x"}, "--night: night"},
		{"missing merge source", []string{"--store", store, "--merge", filepath.Join(src, "nope")}, "not a directory"},
		{"no store", []string{"--store", store}, "no results store there"},
		{"site not empty", []string{"--store", store, "--merge", src, "--site", src}, "--site: site " + src + ": want a directory that does not exist yet or is empty"},
		{"dashboard in a missing directory", []string{"--store", store, "--merge", src, "--dashboard", "/nonexistent/d.html"}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, stderr := results(t, tc.args...)
			if status != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", status, stderr, exitUsage, tc.want)
			}
			assertLogSafe(t, "stderr", stderr)
			if _, err := os.Stat(store); err == nil {
				t.Error("a usage error created the store")
			}
		})
	}
}

func TestResultsRefusesACellNamingTheFile(t *testing.T) {
	src := t.TempDir()
	store := filepath.Join(t.TempDir(), "store")
	writeCell(t, src, "good", true, map[string]string{"verdict": "NOT REPRODUCED"})
	writeCell(t, src, "bad", true, map[string]string{"verdict": "NOT REPRODUCED"})
	if err := os.WriteFile(filepath.Join(src, "bad", "finished.json"), []byte(`{"timestamp":10`), 0o644); err != nil {
		t.Fatal(err)
	}
	status, _, stderr := results(t, "--store", store, "--merge", src, "--night", "n1")
	if status != exitFailed || !strings.Contains(stderr, filepath.Join(src, "bad", "finished.json")+": truncated JSON") {
		t.Errorf("exit %d, stderr %q; want %d naming bad/finished.json", status, stderr, exitFailed)
	}
	if _, err := os.Stat(filepath.Join(store, "n1")); err == nil {
		t.Error("the refused night is in the store")
	}
}

func TestResultsOutputIsSafeForACILog(t *testing.T) {
	// A cell ID with a newline and ESC, and metadata made to forge
	// workflow commands.
	src := t.TempDir()
	writeCell(t, src, "x\n::error::forged\x1b[2J", true, map[string]string{"verdict": "NOT REPRODUCED"})
	status, stdout, stderr := results(t, "--store", filepath.Join(t.TempDir(), "store"), "--merge", src, "--night", "n1")
	if status != exitFailed || !strings.Contains(stderr, filepath.Join(src, `x\n::error::forged\x1b[2J`)+`: cell ID "x\n::error::forged\x1b[2J"`) {
		t.Errorf("a hostile cell ID: exit %d, stderr %q", status, stderr)
	}
	assertLogSafe(t, "stdout", stdout)
	assertLogSafe(t, "stderr", stderr)

	src = t.TempDir()
	store := filepath.Join(t.TempDir(), "store")
	writeCell(t, src, "hostile", false, map[string]string{
		"verdict": "REPRODUCED", "component": "runc\x1b]0;title\x07", "version": "1.0.0-rc94", "affected": ">=1.0.0-rc93 <1.0.0-rc94",
		"failure": "boom\n::error file=x::forged\r\n##[error]old syntax\u202e",
	})
	status, stdout, stderr = results(t, "--store", store, "--merge", src, "--night", "n1", "--site", filepath.Join(t.TempDir(), "site"))
	if status != exitMismatch {
		t.Errorf("exit %d, want %d (RELAPSE, FAILING); stderr %q", status, exitMismatch, stderr)
	}
	for _, want := range []string{"RELAPSE,FAILING hostile:", `boom\n::error file=x::forged\r\n##\[error]old syntax\u202e`, `runc\x1b]0;title\x07`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	assertLogSafe(t, "stdout", stdout)
	assertLogSafe(t, "stderr", stderr)
}
