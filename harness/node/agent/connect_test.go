package agent

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestRelay: what goes in reaches the server, the server's answer comes
// out, and the relay ends when the server closes.
func TestRelay(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		got, _ := io.ReadAll(c)
		_, _ = c.Write([]byte("echo:" + string(got)))
		c.Close()
	}()
	var out bytes.Buffer
	if err := relay(context.Background(), strings.NewReader("ping"), &out, "unix", sock); err != nil {
		t.Fatal(err)
	}
	if out.String() != "echo:ping" {
		t.Fatalf("relayed %q, want %q", out.String(), "echo:ping")
	}
}

// TestRelayRefused: nothing listening is an error naming the address.
func TestRelayRefused(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	err := relay(context.Background(), strings.NewReader(""), io.Discard, "unix", sock)
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Fatalf("err = %v, want a dial error naming %s", err, sock)
	}
}
