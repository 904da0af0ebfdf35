package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
)

// servedNode is a Node whose calls go to an agent server on this machine,
// as they go to the one on a VM node through the ssh forward.
func servedNode(t *testing.T) *Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// The server makes its socket's directory private itself.
	sock := filepath.Join(t.TempDir(), "agent", "serve.sock")
	done := make(chan error, 1)
	go func() { done <- agent.Serve(ctx, sock) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	n := New(Config{NodeName: "served"})
	s := newServed(sock)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.agent(ctx, "facts"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the server did not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.served = s
	return n
}

func TestServedCommandsKeepExitStatusOutputEnvAndDir(t *testing.T) {
	n := servedNode(t)
	ctx := context.Background()
	dir := t.TempDir()
	out, err := n.Command("sh", "-c", `printf '%s|%s|' "$FOO" "$(pwd)"; cat; echo oops >&2; exit 3`).
		SetEnv("FOO=x y").SetDir(dir).SetStdin(strings.NewReader("in")).Output(ctx)
	if want := "x y|" + dir + "|in"; string(out) != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	var re *node.RunError
	if !errors.As(err, &re) || exitCode(err) != 3 || !strings.Contains(string(re.Output), "oops") {
		t.Fatalf("want a RunError with exit status 3 and the stderr, got %v", err)
	}
	if err := n.Command("true").Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestServedCommandIsKilledWithItsContext(t *testing.T) {
	n := servedNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	marker := filepath.Join(t.TempDir(), "child-ran")
	began := time.Now()
	// The child would outlive a kill of the shell alone; the process
	// group's kill ends it before it writes the marker.
	err := n.Command("sh", "-c", "(sleep 2; touch "+marker+") & sleep 30").Run(ctx)
	// The bound is the command's own 30 s, not a guess at the machine's speed.
	if err == nil || time.Since(began) >= 30*time.Second {
		t.Fatalf("err %v after %s, want a kill at the deadline, not the command running out", err, time.Since(began))
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command's child survived the kill")
	}
}

func TestServedFiles(t *testing.T) {
	n := servedNode(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := n.ReadFile(ctx, filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reading an absent file: %v, want os.ErrNotExist", err)
	}
	target := filepath.Join(dir, "sub", "file")
	if err := n.WriteFile(ctx, target, []byte("data\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "local")
	if err := os.WriteFile(src, []byte("binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, "bin", "tool")
	if err := n.CopyIn(ctx, src, copied, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]struct {
		data string
		mode os.FileMode
	}{target: {"data\n", 0o640}, copied: {"binary", 0o755}} {
		got, err := n.ReadFile(ctx, path)
		st, serr := os.Stat(path)
		if err != nil || serr != nil || string(got) != want.data || st.Mode().Perm() != want.mode {
			t.Errorf("%s: %q %v (%v, %v), want %q %v", path, got, st.Mode().Perm(), err, serr, want.data, want.mode)
		}
	}
	if _, err := os.Stat(copied + ".relapse-tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary name of a copy is left: %v", err)
	}
}

func TestServedAgentCalls(t *testing.T) {
	n := servedNode(t)
	ctx := context.Background()
	procs, err := n.Processes(ctx)
	if err != nil || len(procs) == 0 {
		t.Fatalf("processes: %d, %v", len(procs), err)
	}
	if _, err := n.InspectProcess(ctx, 1<<30); !errors.Is(err, evidence.ErrNoProcess) {
		t.Errorf("inspecting a process that does not exist: %v, want evidence.ErrNoProcess", err)
	}
}
