package detect

import (
	"os"
	"path/filepath"
	"testing"
)

const sampleLedger = `1764576000.100000000 ADD aaa netns=/var/run/netns/cni-1 if=eth0 rc=0 ip=10.244.0.2/24
1764576001.000000000 ADD bbb netns=/var/run/netns/cni-2 if=eth0 rc=0 ip=10.244.0.3/24
1764576005.500000000 DEL aaa netns=/var/run/netns/cni-1 if=eth0 rc=0 ip=
1764576006.000000000 ADD bbb netns=/var/run/netns/cni-3 if=eth0 rc=0 ip=10.244.0.4/24
1764576009.000000000 DEL bbb netns= if=eth0 rc=0 ip=
`

func TestLedger(t *testing.T) {
	calls, err := ParseLedger(sampleLedger)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 5 || calls[0].IP != "10.244.0.2/24" || calls[4].Netns != "" || calls[2].At.Unix() != 1764576005 {
		t.Fatalf("parsed %+v", calls)
	}
	s := SummarizeLedger(calls)
	if s.Adds != 3 || s.Dels != 2 || s.EmptyNetnsDels != 1 || s.AddsPerSandbox["bbb"] != 2 {
		t.Errorf("summary %+v", s)
	}
	if _, err := ParseLedger("garbage\n"); err == nil {
		t.Error("a malformed line must fail")
	}
}

func TestAllocationsAndLeaks(t *testing.T) {
	dir := t.TempDir()
	net := filepath.Join(dir, "relapse")
	if err := os.MkdirAll(net, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"10.244.0.2":         "aaa\r\neth0",
		"10.244.0.3":         "bbb\r\neth0",
		"last_reserved_ip.0": "10.244.0.3",
		"lock":               "",
	} {
		if err := os.WriteFile(filepath.Join(net, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	allocs, err := ReadAllocations(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(allocs) != 2 || allocs[0].ContainerID != "aaa" || allocs[0].Ifname != "eth0" {
		t.Fatalf("allocations %+v", allocs)
	}
	if leaked := LeakedIPs(allocs, map[string]bool{"aaa": true, "bbb": true}); len(leaked) != 0 {
		t.Errorf("no false alarm when every allocation has its sandbox: %+v", leaked)
	}
	if leaked := LeakedIPs(allocs, map[string]bool{"aaa": true}); len(leaked) != 1 || leaked[0].IP != "10.244.0.3" {
		t.Errorf("leak of bbb's IP: %+v", leaked)
	}
	if a, err := ReadAllocations(filepath.Join(dir, "missing")); err != nil || a != nil {
		t.Errorf("no data dir yet is no allocation: %v %v", a, err)
	}
}

func TestExtraSandboxes(t *testing.T) {
	got := ExtraSandboxes([]Sandbox{{ID: "s1", PodUID: "u1"}, {ID: "s2", PodUID: "u2"}, {ID: "s3", PodUID: "u2", Attempt: 1}})
	if len(got) != 1 || len(got["u2"]) != 2 {
		t.Errorf("extra sandboxes %+v", got)
	}
}
