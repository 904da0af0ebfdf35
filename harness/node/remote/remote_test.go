package remote

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestPIDSniffer(t *testing.T) {
	var out bytes.Buffer
	var pid int
	s := &pidSniffer{out: &out, found: func(p int) { pid = p }}
	for _, chunk := range []string{"relapse-remote", "-pid 4242\nwarn", "ing: x\n"} {
		if _, err := s.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if pid != 4242 || out.String() != "warning: x\n" {
		t.Errorf("pid %d, passed through %q", pid, out.String())
	}
	out.Reset()
	s = &pidSniffer{out: &out, found: func(p int) { t.Errorf("no marker, but found pid %d", p) }}
	_, _ = s.Write([]byte("ssh: connect to host: refused\n"))
	if out.String() != "ssh: connect to host: refused\n" {
		t.Errorf("a first line that is not the marker must pass through: %q", out.String())
	}
}

// The remote line is run by the node's shell: run it with a local one.
func TestRemoteLineRunsTheCommandAsIs(t *testing.T) {
	dir := t.TempDir()
	c := New(Config{}).Command("sh", "-c", `printf '%s|' "$0" "$FOO" "$(pwd)"; echo "$1"`, "it's", "a b").
		SetEnv("FOO=x y").SetDir(dir).(*cmd)
	var stderr bytes.Buffer
	x := exec.Command("sh", "-c", c.remoteLine())
	x.Stderr = &stderr
	out, err := x.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if want := "it's|x y|" + dir + "|a b\n"; string(out) != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if !strings.HasPrefix(stderr.String(), pidMarker) {
		t.Errorf("stderr %q does not start with the pid marker", stderr.String())
	}
}

func TestWriteLine(t *testing.T) {
	dir := t.TempDir()
	target := dir + "/sub/file"
	for _, viaRename := range []bool{false, true} {
		x := exec.Command("sh", "-c", writeLine(target, 0o640, viaRename))
		x.Stdin = strings.NewReader("data\n")
		if out, err := x.CombinedOutput(); err != nil {
			t.Fatalf("viaRename=%v: %v: %s", viaRename, err, out)
		}
		st, err := exec.Command("stat", "-c", "%a %s", target).Output()
		if err != nil || strings.TrimSpace(string(st)) != "640 5" {
			t.Errorf("viaRename=%v: stat %q %v", viaRename, st, err)
		}
	}
}

// A node with pinned host keys is reached with strict checking against
// them only; one without keeps the old, unchecked way.
func TestSSHArgsPinHostKeys(t *testing.T) {
	pinned := strings.Join(New(Config{Host: "127.0.0.1", Port: 2222, KeyFile: "/k", ControlDir: "/c",
		KnownHosts: "/c/known_hosts", HostKeyAlias: "relapse-vm-node"}).sshArgs(), " ")
	for _, want := range []string{"StrictHostKeyChecking=yes", "UserKnownHostsFile=/c/known_hosts", "HostKeyAlias=relapse-vm-node", "GlobalKnownHostsFile=/dev/null"} {
		if !strings.Contains(pinned, want) {
			t.Errorf("ssh args lack %s: %s", want, pinned)
		}
	}
	if strings.Contains(pinned, "StrictHostKeyChecking=no") {
		t.Errorf("pinned node checked loosely: %s", pinned)
	}
	loose := strings.Join(New(Config{Host: "10.0.0.5", Port: 22, KeyFile: "/k", ControlDir: "/c"}).sshArgs(), " ")
	if !strings.Contains(loose, "StrictHostKeyChecking=no") {
		t.Errorf("node without pinned keys: %s", loose)
	}
}
