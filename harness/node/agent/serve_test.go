package agent

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The server's socket is private from the start: made in a private
// directory with mode 0600 (no window in which others may connect).
func TestServeListensOnAPrivateSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agent")
	sock := filepath.Join(dir, "serve.sock")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, sock) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not listen on %s: %v", sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, sock: 0o600} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", path, got, want)
		}
	}
	// The process's umask is back to what it was.
	old := syscall.Umask(0o022)
	syscall.Umask(old)
	if old == 0o177 {
		t.Errorf("Serve left the umask at %04o", old)
	}
}

// A socket directory others may enter is refused before anything listens.
func TestServeRefusesASharedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agent")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	err := Serve(context.Background(), filepath.Join(dir, "serve.sock"))
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "mode 0777") {
		t.Fatalf("err = %v, want a refusal naming %s and its mode", err, dir)
	}
	if _, err := os.Lstat(filepath.Join(dir, "serve.sock")); !os.IsNotExist(err) {
		t.Errorf("Serve made its socket in a directory it refused")
	}
}
