package qemu

import (
	"bufio"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/provision"
)

func TestSnapshotWanted(t *testing.T) {
	if ok, why := snapshotWanted(provision.Spec{Provider: "qemu"}); !ok {
		t.Errorf("a plain node should start from a snapshot: %s", why)
	}
	ok, why := snapshotWanted(provision.Spec{Provider: "qemu", Disks: []provision.NodeDisk{{Image: "k8s.ext4", MountPoint: "/opt/k8s"}}})
	if ok || !strings.Contains(why, "extra disks") {
		t.Errorf("a node with disks must boot: ok=%v why=%q", ok, why)
	}
	t.Setenv(snapshotEnv, "0")
	if ok, why := snapshotWanted(provision.Spec{Provider: "qemu"}); ok || why != snapshotEnv+"=0" {
		t.Errorf("%s=0 must turn snapshots off: ok=%v why=%q", snapshotEnv, ok, why)
	}
}

func TestReadUntilPrompt(t *testing.T) {
	rd := bufio.NewReader(strings.NewReader("QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) info migrate\r\nMigration status: completed\r\n(qemu) "))
	greeting, err := readUntilPrompt(rd)
	if err != nil || !strings.HasPrefix(greeting, "QEMU 7.2.22") {
		t.Fatalf("greeting %q, %v", greeting, err)
	}
	answer, err := readUntilPrompt(rd)
	if err != nil || !strings.Contains(answer, "Migration status: completed") {
		t.Fatalf("answer %q, %v", answer, err)
	}
	if _, err := readUntilPrompt(rd); err == nil {
		t.Errorf("a closed monitor must be an error")
	}
}

func TestForwardedPort(t *testing.T) {
	// What qemu 7.2's monitor answered, its echo of the command included.
	out := "i\x1b[K\x1b[Din\x1b[Kinfo usernet\x1b[K\r\nHub -1 (n0):\r\n" +
		"  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n" +
		"  TCP[HOST_FORWARD]   8       127.0.0.1 37347       10.0.2.15    22     0     0\r\n(qemu) "
	if port, err := forwardedPort(out); err != nil || port != 37347 {
		t.Errorf("forwardedPort = %d, %v; want 37347", port, err)
	}
	if _, err := forwardedPort("Hub -1 (n0):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n(qemu) "); err == nil {
		t.Error("no forward: want an error")
	}
}
