package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/scenario"
)

// capture runs the CLI in this process with its stdout and stderr
// caught: the exit status and what it printed on stderr.
func capture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldErr, oldOut := os.Stderr, os.Stdout
	os.Stderr, os.Stdout = w, w
	done := make(chan string)
	go func() {
		data, _ := io.ReadAll(r)
		done <- string(data)
	}()
	code := dispatch(context.Background(), args)
	os.Stderr, os.Stdout = oldErr, oldOut
	w.Close()
	return code, <-done
}

// writeFile writes a file in a test directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every mistake in a command line is a usage error: exit 2 and a message
// naming what is wrong and what would be right, before anything runs.
func TestUsageErrorsExit2(t *testing.T) {
	empty := writeFile(t, "empty.yaml", "")
	evil := writeFile(t, "evil.yaml", "cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n    provider: [../../../tmp/evil]\n")
	good := writeFile(t, "good.yaml", "cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93, rc94]}\n")
	repo, err := filepath.Abs("../..") // this repository: a git checkout
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"repro repeat negative":   {[]string{"repro", "--repeat", "-5"}, "repeat -5: want a number of repetitions from 1 to 1000"},
		"repro repeat huge":       {[]string{"repro", "--repeat", "100000000"}, "repeat 100000000: want a number of repetitions from 1 to 1000"},
		"repro memory negative":   {[]string{"repro", "--provider", "qemu", "--memory", "-1"}, "memory -1 MiB: want a positive size"},
		"repro cpus negative":     {[]string{"repro", "--provider", "qemu", "--cpus", "-2"}, "cpus -2: want a positive number of vCPUs"},
		"repro kernel shell":      {[]string{"repro", "--provider", "qemu", "--kernel", "$(id)"}, `kernel "$(id)": want a name, version or path without spaces or shell metacharacters`},
		"repro provider path":     {[]string{"repro", "--provider", "../../../tmp/evil"}, `unknown node provider "../../../tmp/evil"`},
		"repro version":           {[]string{"repro", "--runc", "newest"}, `unknown runc version "newest"`},
		"repro stray argument":    {[]string{"repro", "rc93"}, `unexpected argument "rc93": this command takes flags only`},
		"repro lock-wait":         {[]string{"repro", "--lock-wait", "-1s"}, "--lock-wait -1s: want how long to wait"},
		"repro bad flag":          {[]string{"repro", "--nope"}, "flag provided but not defined: -nope"},
		"repro version twice":     {[]string{"repro", "--version", "runc=rc93", "--version", "runc=rc94"}, `runc given twice ("rc93" and "rc94"): give it once`},
		"repro runc and version":  {[]string{"repro", "--runc", "rc93", "--version", "runc=rc94"}, "--runc and --version runc=...: runc given twice"},
		"repro param twice":       {[]string{"repro", "--param", "engine=runc", "--param", "engine=docker"}, "engine given twice"},
		"bisect repeat":           {[]string{"bisect", "--component", "runc", "--good", "rc92", "--bad", "rc93", "--repeat", "-1"}, "repeat -1: want a number of repetitions"},
		"bisect memory":           {[]string{"bisect", "--component", "runc", "--good", "rc92", "--bad", "rc93", "--provider", "qemu", "--memory", "-512"}, "memory -512 MiB"},
		"bisect lock-wait":        {[]string{"bisect", "--component", "runc", "--good", "rc92", "--bad", "rc93", "--lock-wait", "-1s"}, "--lock-wait -1s: want how long to wait"},
		"bisect stray argument":   {[]string{"bisect", "--component", "runc", "rc92"}, `unexpected argument "rc92"`},
		"matrix stray argument":   {[]string{"matrix", "--scenario", "runc-pipe-hang", "extra"}, `unexpected argument "extra"`},
		"matrix node flags":       {[]string{"matrix", "--scenario", "runc-pipe-hang", "--provider", "qemu", "--cpus", "-1"}, "cpus -1"},
		"matrix file empty":       {[]string{"matrix", "--file", empty, "--list"}, "no cells"},
		"matrix file evil":        {[]string{"matrix", "--file", evil, "--list"}, `unknown node provider "../../../tmp/evil"`},
		"matrix shard trailing":   {[]string{"matrix", "--file", good, "--list", "--shard", "2/3x"}, `--shard "2/3x": want k/n with 1 <= k <= n`},
		"matrix shard three":      {[]string{"matrix", "--file", good, "--list", "--shard", "1/2/3"}, `--shard "1/2/3"`},
		"matrix shard zero":       {[]string{"matrix", "--file", good, "--list", "--shard", "0/2"}, `--shard "0/2"`},
		"matrix parallel":         {[]string{"matrix", "--file", good, "--list", "--parallel", "0"}, "--parallel 0: want how many VM cells may run at once, 1 or more"},
		"matrix lock-wait":        {[]string{"matrix", "--file", good, "--list", "--lock-wait", "-5m"}, "--lock-wait -5m0s"},
		"matrix job kubernetes":   {[]string{"matrix", "--file", good, "--list", "--job", "--job-kubernetes", "1.30; id"}, `--job-kubernetes: unknown kubernetes version "1.30; id"`},
		"matrix speed":            {[]string{"matrix", "--file", good, "--list", "--speed", "quick"}, `--speed "quick": want fast or slow`},
		"matrix file stray":       {[]string{"matrix", "--file", good, "--list", "x"}, `unexpected argument "x"`},
		"matrix sources form":     {[]string{"matrix", "--file", good, "--list", "--sources", "runc"}, `NIGHTLY_SOURCES entry "runc": want component=DIR`},
		"matrix sources relative": {[]string{"matrix", "--file", good, "--list", "--sources", "runc=src/runc"}, "not a clean absolute path"},
		"matrix sources missing":  {[]string{"matrix", "--file", good, "--list", "--sources", "runc=/nonexistent/runc"}, "/nonexistent/runc is not a directory"},
		"matrix sources unknown":  {[]string{"matrix", "--file", good, "--list", "--sources", "crun=/"}, `"crun" is no component`},
		"nightly sources twice":   {[]string{"nightly", "--file", good, "--sources", "runc=" + repo + ",runc=" + repo}, "names runc twice"},
		"nightly shard":           {[]string{"nightly", "--file", good, "--shard", "1/2/3"}, `--shard "1/2/3"`},
		"nightly empty":           {[]string{"nightly", "--file", empty}, "no cells"},
		"nightly night":           {[]string{"nightly", "--file", good, "--cell", "runc-pipe-hang.runc-rc93", "--night", "../../etc"}, `--night: night "../../etc": want letters, digits`},
		"nightly bisect deadline": {[]string{"nightly", "--file", good, "--bisect-deadline", "0s"}, "--bisect-deadline 0s: want a positive duration"},
		"results bisect deadline": {[]string{"results", "--store", t.TempDir(), "--bisect-relapses", "--bisect-deadline", "-1m"}, "--bisect-deadline -1m0s: want a positive duration"},
		"results bisect file":     {[]string{"results", "--store", t.TempDir(), "--bisect-relapses", "--file", "/nonexistent/nightly.yaml"}, "--file /nonexistent/nightly.yaml: no matrix file there"},
		"versions two components": {[]string{"versions", "runc", "containerd"}, `unexpected argument "containerd"`},
		"versions unknown":        {[]string{"versions", "crun"}, `unknown component "crun"`},
		"scenarios argument":      {[]string{"scenarios", "x"}, `relapse scenarios: unexpected argument "x"`},
		"repair argument":         {[]string{"repair", "now"}, `relapse repair: unexpected argument "now"`},
		"unknown command":         {[]string{"reproduce"}, `unknown command "reproduce"`},
	} {
		t.Run(name, func(t *testing.T) {
			code, stderr := capture(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("relapse %s: exit %d, stderr:\n%s\nwant exit 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
			}
			if strings.Contains(stderr, "lean build") {
				t.Errorf("the full binary gave the lean-build hint:\n%s", stderr)
			}
		})
	}
}

// The matrix file's cells list with a strict shard: shards partition.
func TestMatrixListShards(t *testing.T) {
	good := writeFile(t, "good.yaml", "cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93, rc94]}\n")
	for _, shard := range []string{"1/2", "2/2"} {
		code, out := capture(t, "matrix", "--file", good, "--list", "--shard", shard)
		if code != exitVerdict || strings.Count(out, `"id"`) != 1 {
			t.Errorf("--shard %s: exit %d, want one cell:\n%s", shard, code, out)
		}
	}
}

// NIGHTLY_SOURCES is checked as --sources is: a bad value is a usage error.
func TestNightlySourcesFromEnvironment(t *testing.T) {
	good := writeFile(t, "good.yaml", "cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n")
	t.Setenv("NIGHTLY_SOURCES", "runc=relative")
	if code, out := capture(t, "matrix", "--file", good, "--list"); code != exitUsage || !strings.Contains(out, "not a clean absolute path") {
		t.Errorf("NIGHTLY_SOURCES=runc=relative: exit %d, want 2:\n%s", code, out)
	}
}

func TestHelpIsNoError(t *testing.T) {
	if code, _ := capture(t, "repro", "-h"); code != exitVerdict {
		t.Errorf("repro -h: exit %d, want 0", code)
	}
}

// The lean-build hint follows the cause, not the build: only a scenario
// or engine the build does not link gets it.
func TestLeanHintOnlyForWhatIsNotLinked(t *testing.T) {
	saved := nightlyCmd
	nightlyCmd = nil // what a lean build has
	t.Cleanup(func() { nightlyCmd = saved })
	for _, tc := range []struct {
		err  error
		hint bool
	}{
		{fmt.Errorf("scenario %q is %w", "containerd-metrics-deadlock", scenario.ErrNotLinked), true},
		{fmt.Errorf("parameter engine=%q: %w", "docker", scenario.ErrNotLinked), true},
		{errors.New("patch x.patch does not apply to runc v1.1.14"), false},
		{errors.New(`unknown runc version "newest"`), false},
	} {
		code, stderr := captureFunc(t, func() int { return usageError(tc.err) })
		if code != exitUsage || strings.Contains(stderr, "this is a lean build") != tc.hint {
			t.Errorf("usageError(%v): exit %d, hint %v, want hint %v:\n%s", tc.err, code, !tc.hint, tc.hint, stderr)
		}
	}
}

// captureFunc runs f with stderr caught.
func captureFunc(t *testing.T, f func() int) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		data, _ := io.ReadAll(r)
		done <- string(data)
	}()
	code := f()
	os.Stderr = old
	w.Close()
	return code, <-done
}

// The lean binary itself: asked for a scenario or engine it leaves out it
// says how to get one that has it; for a typo or an unknown version it
// does not.
func TestLeanBinaryHint(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "relapse-lean")
	build := exec.Command("go", "build", "-tags", "relapse_lean", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags relapse_lean: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
		hint bool
	}{
		{[]string{"repro", "--scenario", "containerd-metrics-deadlock"}, `scenario "containerd-metrics-deadlock" is not linked into this relapse`, true},
		{[]string{"repro", "--param", "engine=docker"}, `"docker" is not linked into this relapse (it has runc)`, true},
		{[]string{"repro", "--param", "engine=dockr"}, "want one of runc", false},
		{[]string{"repro", "--runc", "newest"}, `unknown runc version "newest"`, false},
		{[]string{"repro", "--scenario", "no-such-bug"}, `unknown scenario "no-such-bug"`, false},
		{[]string{"matrix", "--scenario", "pleg-not-healthy"}, `scenario "pleg-not-healthy" is not linked`, true},
	} {
		cmd := exec.Command(bin, tc.args...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
			t.Errorf("relapse-lean %s: %v, want exit 2:\n%s", strings.Join(tc.args, " "), err, out)
			continue
		}
		if !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "this is a lean build") != tc.hint {
			t.Errorf("relapse-lean %s: want %q and hint %v:\n%s", strings.Join(tc.args, " "), tc.want, tc.hint, out)
		}
	}
}
