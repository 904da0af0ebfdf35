package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/node"
)

func TestNodeNames(t *testing.T) {
	n := New()
	if n.Name() != "local" || n.Provider() != "local" {
		t.Errorf("Name, Provider = %q, %q", n.Name(), n.Provider())
	}
}

func TestCommandStringIsShellLine(t *testing.T) {
	got := New().Command("runc", "--root", "/run/x", "exec", "c1", "sh", "-c", "echo it's").String()
	if want := `runc --root /run/x exec c1 sh -c 'echo it'\''s'`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestFailedCommandReturnsRunErrorWithCommandLine(t *testing.T) {
	err := New().Command("sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3").Run(context.Background())
	var re *node.RunError
	if !errors.As(err, &re) {
		t.Fatalf("err = %T %v, want *node.RunError", err, err)
	}
	if re.Node != "local" {
		t.Errorf("Node = %q", re.Node)
	}
	if want := `sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'`; re.Command != want {
		t.Errorf("Command = %s, want %s", re.Command, want)
	}
	if string(re.Output) != "to-stdout\nto-stderr\n" {
		t.Errorf("Output = %q, want both streams", re.Output)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("exit code = %v, want 3", err)
	}
	if !strings.Contains(err.Error(), "command failed on node local: sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'") {
		t.Errorf("Error() = %s", err)
	}
}

func TestStartOfMissingBinaryIsRunError(t *testing.T) {
	_, err := New().Command("/nonexistent/relapse-no-such-binary", "x").Start(context.Background())
	var re *node.RunError
	if !errors.As(err, &re) || re.Command != "/nonexistent/relapse-no-such-binary x" {
		t.Errorf("err = %v, want a RunError naming the command", err)
	}
}

func TestOutputReturnsStdoutOnly(t *testing.T) {
	out, err := New().Command("sh", "-c", "echo hello; echo noise >&2").Output(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "hello\n" {
		t.Errorf("Output = %q, want %q", out, "hello\n")
	}
}

func TestOutputOnFailureCarriesStderrInError(t *testing.T) {
	out, err := New().Command("sh", "-c", "echo partial; echo bad >&2; exit 1").Output(context.Background())
	if string(out) != "partial\n" {
		t.Errorf("Output = %q", out)
	}
	var re *node.RunError
	if !errors.As(err, &re) || string(re.Output) != "bad\n" {
		t.Errorf("err = %v, want RunError with stderr output", err)
	}
}

func TestSetEnvSetDirSetStdin(t *testing.T) {
	dir := t.TempDir()
	out, err := New().Command("sh", "-c", `echo "$RELAPSE_TEST_VAR"; pwd; cat`).
		SetEnv("RELAPSE_TEST_VAR=bar").SetDir(dir).SetStdin(strings.NewReader("from stdin\n")).
		Output(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "bar\n" + dir + "\nfrom stdin\n"; string(out) != want {
		t.Errorf("output = %q, want %q", out, want)
	}
}

// groupMembers lists the live (non-zombie) processes in a process group.
func groupMembers(t *testing.T, pgid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		// f[0] is the state, f[2] the process group.
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) || f[0] == "Z" {
			continue
		}
		live = append(live, strconv.Itoa(pid)+" "+s[strings.IndexByte(s, '(')+1:strings.LastIndexByte(s, ')')])
	}
	return live
}

func TestDeadlineKillsWholeProcessGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	p, err := New().Command("sh", "-c", "sleep 30 & sleep 30").Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pgid := p.PID()
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	if got, err := syscall.Getpgid(pgid); err != nil || got != pgid {
		t.Fatalf("Getpgid(%d) = %d, %v; want its own group", pgid, got, err)
	}
	err = p.Wait()
	elapsed := time.Since(begin)
	t.Logf("Wait returned after %s: %v", elapsed, err)
	// The bound is the test's own: the sleeps' 30 s, which Wait would
	// sit out if the kill missed the background one holding the output.
	if elapsed >= 30*time.Second {
		t.Errorf("Wait took %s: it waited for the sleeps instead of killing their group at the deadline", elapsed)
	}
	var re *node.RunError
	if !errors.As(err, &re) {
		t.Fatalf("err = %T %v, want *node.RunError", err, err)
	}
	if !strings.Contains(err.Error(), "killed: context deadline exceeded") {
		t.Errorf("err = %v, want it to say it was killed by the deadline", err)
	}
	// The background sleep is in the same group and must be gone too. It
	// may linger as a zombie until reaped, later on a loaded machine; the
	// deadline stays short of its own 30 s, after which it would end anyway.
	var left []string
	for deadline := begin.Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = groupMembers(t, pgid); len(left) == 0 {
			break
		}
	}
	if len(left) != 0 {
		t.Errorf("processes of group %d still alive after the deadline: %q", pgid, left)
	}
}

func TestSetOutputFileSendsBothStreamsToFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "c1.out")
	n := New()
	var stdout bytes.Buffer
	if err := n.Command("sh", "-c", "echo out; echo err >&2").SetStdout(&stdout).SetOutputFile(out).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout writer got %q, want nothing (output file wins)", stdout.String())
	}
	// A second run appends.
	err := n.Command("sh", "-c", "echo again; exit 2").SetOutputFile(out).Run(context.Background())
	var re *node.RunError
	if !errors.As(err, &re) || len(re.Output) != 0 {
		t.Errorf("err = %v, want RunError without captured output", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "out\nerr\nagain\n" {
		t.Errorf("output file = %q, want %q", data, "out\nerr\nagain\n")
	}
}

func TestSetOutputFileInMissingDirFailsAtStart(t *testing.T) {
	_, err := New().Command("true").SetOutputFile(filepath.Join(t.TempDir(), "no", "such", "dir", "x.out")).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "opening output file for true") {
		t.Errorf("err = %v", err)
	}
}

func TestStartWaitPID(t *testing.T) {
	var stdout bytes.Buffer
	p, err := New().Command("sh", "-c", "echo $$").SetStdout(&stdout).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if err := p.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got := strings.TrimSpace(stdout.String()); got != strconv.Itoa(pid) {
		t.Errorf("PID() = %d, but the shell is pid %s", pid, got)
	}
}

func TestKillEndsStartedProcess(t *testing.T) {
	p, err := New().Command("sleep", "30").Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	err = p.Wait()
	if took := time.Since(begin); took >= 30*time.Second {
		t.Errorf("Wait after Kill took %s: the sleep ran out instead", took)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait err = %v, want killed by SIGKILL", err)
	}
}

func TestNodeKillOfMissingProcessIsNotAnError(t *testing.T) {
	if err := New().Kill(context.Background(), 1<<30, 0); err != nil {
		t.Errorf("Kill(nonexistent) = %v, want nil", err)
	}
}

func TestNodeFiles(t *testing.T) {
	ctx := context.Background()
	n := New()
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b", "f.txt")
	if err := n.WriteFile(ctx, p, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := n.ReadFile(ctx, p); err != nil || string(got) != "data" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	dst := filepath.Join(dir, "c", "g.bin")
	if err := n.CopyIn(ctx, p, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dst)
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("copied file = %v, %v; want mode 0755", st, err)
	}
	if got, _ := os.ReadFile(dst); string(got) != "data" {
		t.Errorf("copied content = %q", got)
	}
	// Copying a file onto itself only changes its mode.
	if err := n.CopyIn(ctx, dst, dst, 0o700); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o700 {
		t.Errorf("mode after self-copy = %v, want 0700", st.Mode().Perm())
	}
	if got, _ := os.ReadFile(dst); string(got) != "data" {
		t.Errorf("self-copy changed content to %q", got)
	}
}

func TestInspectOwnProcess(t *testing.T) {
	s, err := New().InspectProcess(context.Background(), os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.PID != os.Getpid() || s.PPID != os.Getppid() || s.Threads < 1 || len(s.FDs) == 0 {
		t.Errorf("snapshot = pid %d ppid %d threads %d fds %d", s.PID, s.PPID, s.Threads, len(s.FDs))
	}
}
