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
