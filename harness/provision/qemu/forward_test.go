package qemu

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bareMachine starts qemu with a node's network, console, pid file and
// monitor but no kernel or disk (the firmware finds nothing to boot and
// waits), which is all forwarding and saving state need.
func bareMachine(t *testing.T, ctx context.Context, extra []string, files ...*os.File) (*machine, int) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed (make deps-vm)")
	}
	m := &machine{dir: t.TempDir(), name: "bare"}
	args := []string{"-nodefaults", "-no-user-config", "-display", "none", "-machine", "q35", "-accel", "tcg", "-m", "32"}
	args = append(append(append(args, sshForwardArgs()...), hostSideArgs(m.dir)...), extra...)
	port, err := m.startForwarded(ctx, args, files...)
	if m.cmd != nil && m.cmd.Process != nil {
		t.Cleanup(func() {
			_ = m.cmd.Process.Kill()
			<-m.exited
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return m, port
}

// qemu binds the forwarded port itself (port 0: no pick, release and bind
// that another user could get between), says which it got, and something
// listens there; its state is saved and restored through descriptors, with
// no shell and no path on a command line.
func TestForwardAndStateThroughDescriptors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, port := bareMachine(t, ctx, nil)
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if err != nil {
		t.Fatalf("nothing listens on the port qemu reports (%d): %v", port, err)
	}
	conn.Close()

	// A path a shell would split or expand: qemu gets the open file.
	state := filepath.Join(t.TempDir(), "state $(touch pwned) .bin")
	if err := migrateToFile(ctx, monitorPath(m.dir), state); err != nil {
		t.Fatalf("saving the state: %v", err)
	}
	if st, err := os.Stat(state); err != nil || st.Size() == 0 {
		t.Fatalf("saved state %s: %v", state, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(state), "pwned")); err == nil {
		t.Fatal("the state's path went through a shell")
	}

	f, err := os.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	restored, port2 := bareMachine(t, ctx, restoreArgs(nil), f)
	if port2 <= 0 {
		t.Fatalf("restored machine forwards port %d", port2)
	}
	if err := waitRunning(ctx, restored.dir); err != nil {
		log, _ := os.ReadFile(filepath.Join(restored.dir, "qemu.log"))
		t.Fatalf("the restored machine does not run: %v\n%s", err, log)
	}
	for _, a := range restored.cmd.Args {
		if strings.Contains(a, "exec:") {
			t.Errorf("qemu's command line runs a shell: %q", restored.cmd.Args)
		}
	}
}
