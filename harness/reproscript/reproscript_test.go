package reproscript

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

func TestCheckRefusesWhatThePrologueCannotQuote(t *testing.T) {
	for _, c := range []Cleanup{
		{},
		{Made: []string{"../up"}},
		{Made: []string{"/abs"}},
		{Made: []string{"a b"}},
		{Made: []string{"."}},
		{Made: []string{"x"}, Cgroup: "a/b"},
		{Made: []string{"x"}, Netns: "$(id)"},
		{Made: []string{"x"}, Sysctl: "fs/pipe"},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Cleanup{Made: []string{"bundle", "state/x"}, Cgroup: "c-$$", Netns: "n-$$", Sysctl: "fs.pipe-user-pages-soft"}).Check(); err != nil {
		t.Error(err)
	}
}

// probe is a script made of the shared prologue: it makes work/, starts
// two sleeps the cleanup must find by /proc alone (one working in work/,
// one naming it in its arguments; neither recorded with own), says
// "ready" and waits.
var probe = fstest.MapFS{"probe.sh.tmpl": {Data: []byte(`#!/bin/sh
{{- define "release"}}
  echo released > "$here/released"
{{end}}
{{template "prologue" .Cleanup}}
mkdir work
(cd work && exec sleep 300) &
sh -c 'exec sleep 301' "$here/work/arg" &
echo ready
while :; do sleep 0.05; done
`)}}

type probeData struct{ Base }

func renderProbe(t *testing.T) string {
	t.Helper()
	tmpl, err := Parse(probe, "probe.sh.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	s, err := tmpl.Render(probeData{Base{Cleanup{Made: []string{"work", "released"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Lint(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Two SIGINTs to the process group 20-40 ms apart (Ctrl-C twice) and a
// TERM on top: the cleanup runs once, to its end, kills both sleeps and
// removes what the script made.
func TestPrologueSurvivesRepeatedSignals(t *testing.T) {
	for _, gap := range []time.Duration{0, 20 * time.Millisecond, 40 * time.Millisecond} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "reproduce.sh"), []byte(renderProbe(t)), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "sh", "reproduce.sh")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
			t.Fatalf("script said %q, %v", buf, err)
		}
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGINT)
		time.Sleep(gap)
		_ = syscall.Kill(-pgid, syscall.SIGINT)
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		err = cmd.Wait()
		cancel()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
			t.Errorf("gap %s: exit %v, want status 130 (INT)", gap, err)
		}
		left, _ := os.ReadDir(dir)
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != "reproduce.sh" {
			t.Errorf("gap %s: the directory holds %v, want only reproduce.sh (work/ and the release marker removed)", gap, names)
		}
		if pids := sleepsIn(t, dir); len(pids) > 0 {
			t.Errorf("gap %s: sleeps of the script outlive it: %v", gap, pids)
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
	}
}

// sleepsIn finds processes whose cwd or arguments lie in dir.
func sleepsIn(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		args, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.HasPrefix(cwd, dir+"/") || strings.Contains(string(args), dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A directory that already holds what the script makes is refused before
// anything changes, and left as it was.
func TestPrologueRefusesADirectoryHoldingWhatItMakes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "reproduce.sh"), []byte(renderProbe(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "reproduce.sh")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "work already exists") {
		t.Errorf("exit %v, output %q; want status 2 naming work", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "work")); err != nil {
		t.Errorf("the refused directory lost work/: %v", err)
	}
}

// A mount left in what the script made (a runtime killed halfway) is
// unmounted before the removal, which must not reach through it.
func TestPrologueUnmountsBeforeRemoving(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to mount (the suites run as root)")
	}
	keep := t.TempDir()
	if err := os.WriteFile(filepath.Join(keep, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, err := Parse(fstest.MapFS{"m.sh.tmpl": {Data: []byte(`#!/bin/sh
{{template "prologue" .Cleanup}}
mkdir -p work/bound
mount --bind "$1" work/bound || exit 3
exit 0
`)}}, "m.sh.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	s, err := tmpl.Render(probeData{Base{Cleanup{Made: []string{"work"}}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "reproduce.sh"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "reproduce.sh", keep)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(keep, "precious")); err != nil {
		t.Errorf("the removal reached through the bind mount: %v", err)
	}
	if info, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(info), dir) {
		_ = exec.Command("umount", "-l", filepath.Join(dir, "work", "bound")).Run()
		t.Errorf("a mount in the script's directory is left")
	}
	if _, err := os.Stat(filepath.Join(dir, "work")); !os.IsNotExist(err) {
		t.Errorf("work/ is left: %v", err)
	}
}
