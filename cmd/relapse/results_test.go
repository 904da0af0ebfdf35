package main

import (
	"context"
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
	status = runResults(context.Background(), args, o, e)
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

// The night's exit status, from crafted stores: 4 on a RELAPSE (a
// canary's only without --canary-ok) or a FAILING row, 5 when a canary
// missed or did not run. Nights are named as the GitHub workflow names
// them and start at the same second: run-10 is the latest, not run-9.
func TestResultsExitStatus(t *testing.T) {
	clean := map[string]string{"bug": "containerd#5261", "component": "runc", "version": "1.0.0-rc94", "version_runc": "v1.0.0-rc94",
		"affected": ">=1.0.0-rc93 <1.0.0-rc94", "verdict": "NOT REPRODUCED", "k": "0", "n": "1"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	relapsed := with(clean, "verdict", "REPRODUCED", "k", "1")
	// runc 1.1.14 with runc#2871 reverted, not marked canary (the
	// errnoret-revert cells were such).
	fixRevert := with(relapsed, "version", "1.1.14", "version_runc", "v1.1.14", "fix", "runc#2871", "reverts", "runc#2871")
	canary := with(fixRevert, "canary", "true")
	// latest resolved to 1.5.3 on run-9 and 1.5.4 on run-10.
	latest := func(version, verdict string) map[string]string {
		m := with(clean, "version", version, "version_runc", "v"+version, "verdict", verdict, "selector", "latest", "selected", "latest = v"+version)
		delete(m, "affected")
		return m
	}
	type cells map[string]map[string]string // cell ID -> metadata; nil: not run
	for _, tc := range []struct {
		name        string
		run9, run10 cells
		canaryOK    bool
		want        int
		wantOut     string
	}{
		{"clean", cells{"a": clean}, cells{"a": clean}, false, exitVerdict, ""},
		{"relapse", cells{"a": clean}, cells{"a": relapsed}, true, exitMismatch, "RELAPSE"},
		{"canary relapsed", cells{"c": canary}, cells{"c": canary}, false, exitMismatch, "RELAPSE"},
		{"canary relapsed, canary ok", cells{"c": canary}, cells{"c": canary}, true, exitVerdict, "RELAPSE"},
		{"fix-revert cell relapsed, canary ok", cells{"c": fixRevert}, cells{"c": fixRevert}, true, exitVerdict, "RELAPSE"},
		{"canary missed", cells{"c": canary}, cells{"c": with(canary, "verdict", "NOT REPRODUCED", "k", "0")}, true, exitCanaryMissed, "CANARY MISSED"},
		{"canary did not run", cells{"c": canary, "a": clean}, cells{"a": clean}, true, exitCanaryMissed, "STALE,CANARY MISSED c: not run in night run-10"},
		{"canary did not run on run-9 only", cells{"a": clean}, cells{"c": canary, "a": clean}, true, exitVerdict, ""},
		{"selector: new release reproduces", cells{"s": latest("1.5.3", "NOT REPRODUCED")}, cells{"s": latest("1.5.4", "REPRODUCED")}, true, exitMismatch,
			"RELAPSE        s: runc latest resolved to 1.5.4, which reproduced; 1.5.3"},
		{"selector: new release fine", cells{"s": latest("1.5.3", "NOT REPRODUCED")}, cells{"s": latest("1.5.4", "NOT REPRODUCED")}, true, exitVerdict, ""},
		{"failing", cells{"a": clean}, cells{"a": with(clean, "failure", "host change not put back")}, true, exitMismatch, "FAILING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			var status int
			var stdout, stderr string
			for _, n := range []struct {
				name  string
				cells cells
			}{{"run-9", tc.run9}, {"run-10", tc.run10}} {
				src := t.TempDir()
				for id, meta := range n.cells {
					passed := meta["failure"] == ""
					writeCell(t, src, id, passed, with(meta))
				}
				args := []string{"--store", store, "--merge", src, "--night", n.name}
				if tc.canaryOK {
					args = append(args, "--canary-ok")
				}
				status, stdout, stderr = results(t, args...)
			}
			if status != tc.want || !strings.Contains(stdout, tc.wantOut) || !strings.Contains(stdout, "latest run-10") {
				t.Errorf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", status, tc.want, tc.wantOut, stdout, stderr)
			}
		})
	}
}

// relapse results --bisect-relapses bisects the latest night's relapses
// once, attaching what it found or lacked; the night still exits 4. Here
// the relapsed cell is not in the matrix file, so no experiment runs and
// the attached outcome says what is missing.
func TestResultsBisectsRelapsesOnce(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	file := writeFile(t, "nightly.yaml", "cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n")
	const id = "runc-pipe-hang.runc-latest"
	for i, n := range []struct{ version, verdict string }{{"v1.5.3", "NOT REPRODUCED"}, {"v1.5.4", "REPRODUCED"}} {
		src := t.TempDir()
		writeCell(t, src, id, true, map[string]string{"scenario": "runc-pipe-hang", "bug": "containerd#5261", "component": "runc",
			"version": n.version, "version_runc": n.version, "verdict": n.verdict, "k": "1", "n": "1", "selector": "latest", "selected": "latest = " + n.version})
		// Night 2 merged is already the RELAPSE (exit 4).
		if status, _, stderr := results(t, "--store", store, "--merge", src, "--night", "night-"+string(rune('1'+i))); status != exitVerdict+exitMismatch*i {
			t.Fatalf("merging night %d: exit %d\n%s", i+1, status, stderr)
		}
	}
	status, stdout, stderr := results(t, "--store", store, "--bisect-relapses", "--file", file)
	want := "not bisected: cell " + id + " is not in the matrix file"
	if status != exitMismatch || !strings.Contains(stdout, "bisecting 1 relapse(s)") || !strings.Contains(stdout, want) {
		t.Fatalf("exit %d, want 4 (the RELAPSE) and %q; stdout:\n%s\nstderr:\n%s", status, want, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(store, "night-2", id, "artifacts", "bisect", "bisection.json")); err != nil {
		t.Errorf("nothing attached to the cell: %v", err)
	}
	status, stdout, _ = results(t, "--store", store, "--bisect-relapses", "--file", file)
	if status != exitMismatch || strings.Contains(stdout, "bisecting") || !strings.Contains(stdout, want) {
		t.Errorf("compared again: exit %d, stdout:\n%s\nwant the attached outcome shown, not a second bisection", status, stdout)
	}
}
