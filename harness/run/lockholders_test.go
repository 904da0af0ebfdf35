package run

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdShared starts flock(1) holding the host lock shared, as a VM run
// does, and returns its pid once it holds it.
func holdShared(t *testing.T, dir string) int {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("flock", "--shared", filepath.Join(dir, "host.lock"), "sh", "-c", "echo held; exec sleep 120")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("flock(1) (util-linux, installed by ci/deps.sh base): %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if strings.TrimSpace(line) != "held" {
			t.Fatalf("flock said %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("flock did not take the lock within 30 s")
	}
	return cmd.Process.Pid
}

// With the lock shared by a VM run, an exclusive request names that live
// holder, not the pid an earlier exclusive holder left in the file.
func TestLockErrorNamesTheLiveHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// What relapse used to leave: the pid of an exclusive holder long gone.
	if err := os.WriteFile(filepath.Join(dir, "host.lock"), []byte("999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pid := holdShared(t, dir)
	_, err := AcquireHost(context.Background(), dir, true, 0)
	if err == nil {
		t.Fatal("took the lock exclusively while flock holds it shared")
	}
	want := fmt.Sprintf("pid %d (shared: a run in a VM of its own) flock --shared", pid)
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "999999999") {
		t.Fatalf("err = %v\nwant it to name %q and not the stale pid", err, want)
	}
	// A shared request goes beside it.
	shared, err := AcquireHost(context.Background(), dir, false, 0)
	if err != nil {
		t.Fatalf("shared beside shared: %v", err)
	}
	shared.Unlock()
}

func TestParseLockHolders(t *testing.T) {
	dev := unix.Mkdev(0, 0x1f)
	text := `1: FLOCK  ADVISORY  READ  4711 00:1f:123456 0 EOF
1: -> FLOCK  ADVISORY  WRITE 4712 00:1f:123456 0 EOF
2: FLOCK  ADVISORY  WRITE 4713 00:1f:999 0 EOF
3: POSIX  ADVISORY  WRITE 4714 00:1f:123456 0 EOF
4: FLOCK  ADVISORY  WRITE 4715 08:01:123456 0 EOF
5: OFDLCK ADVISORY  READ  -1 00:1f:123456 0 EOF
`
	hs := parseLockHolders(strings.NewReader(text), dev, 123456)
	if len(hs) != 1 || hs[0].PID != 4711 || hs[0].Exclusive {
		t.Fatalf("holders = %+v, want pid 4711 shared only (no waiter, other file, POSIX lock or other device)", hs)
	}
	if got := describeHolders(hs); !strings.Contains(got, "pid 4711 (shared") {
		t.Errorf("describe = %q", got)
	}
	if got := describeHolders(nil); !strings.Contains(got, "try again") {
		t.Errorf("describe(nil) = %q", got)
	}
}
