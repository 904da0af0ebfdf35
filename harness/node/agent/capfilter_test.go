package agent

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The bounding set of the VMs relapse was measured on: everything but
// CAP_SYS_RESOURCE (bit 24).
const boundingWithoutSysResource = 0x000001fffeffffff

func TestBoundCapabilitiesDropsWhatTheHostCannotGrant(t *testing.T) {
	in := []byte(`{"ociVersion":"1.0.2","process":{"args":["/sbin/init"],"capabilities":{
		"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_SYS_ADMIN","CAP_FUTURE_THING"],
		"effective":["CAP_SYS_RESOURCE"],"permitted":["CAP_CHOWN","CAP_SYS_RESOURCE"]}},"root":{"path":"rootfs"}}`)
	out, changed, err := BoundCapabilities(in, boundingWithoutSysResource, true)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	var spec struct {
		Process struct {
			Args         []string            `json:"args"`
			Capabilities map[string][]string `json:"capabilities"`
		} `json:"process"`
		Root map[string]string `json:"root"`
	}
	if err := json.Unmarshal(out, &spec); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"bounding":  {"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_FUTURE_THING"},
		"effective": {},
		"permitted": {"CAP_CHOWN"},
	}
	if !reflect.DeepEqual(spec.Process.Capabilities, want) {
		t.Errorf("capabilities = %v, want %v", spec.Process.Capabilities, want)
	}
	if spec.Root["path"] != "rootfs" || spec.Process.Args[0] != "/sbin/init" {
		t.Errorf("the rest of the config changed: %s", out)
	}
}

func TestBoundCapabilitiesLeavesAGrantableConfigAlone(t *testing.T) {
	in := []byte(`{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"]}}}`)
	out, changed, err := BoundCapabilities(in, boundingWithoutSysResource, true)
	if err != nil || changed || string(out) != string(in) {
		t.Errorf("changed=%v err=%v out=%s", changed, err, out)
	}
}

func TestBoundCapabilitiesOfAnExecProcess(t *testing.T) {
	in := []byte(`{"args":["cat","/kind/version"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}`)
	out, changed, err := BoundCapabilities(in, boundingWithoutSysResource, false)
	if err != nil || !changed || string(out) != `{"args":["cat","/kind/version"],"capabilities":{"bounding":["CAP_KILL"]}}` {
		t.Errorf("changed=%v err=%v out=%s", changed, err, out)
	}
}

func TestSpecOf(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		path      string
		inProcess bool
		ok        bool
	}{
		{[]string{"--root", "/r", "--log", "x", "create", "--bundle", "/b1", "id"}, "/b1/config.json", true, true},
		{[]string{"create", "-b", "/b2", "id"}, "/b2/config.json", true, true},
		{[]string{"run", "--bundle=/b3", "id"}, "/b3/config.json", true, true},
		{[]string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"}, "/tmp/p.json", false, true},
		{[]string{"exec", "id", "cat", "/x"}, "", false, false},
		{[]string{"--root", "/r", "start", "id"}, "", false, false},
		{[]string{"delete", "--force", "id"}, "", false, false},
	} {
		path, inProcess, ok := specOf(tc.args)
		if ok != tc.ok || (ok && (path != tc.path || inProcess != tc.inProcess)) {
			t.Errorf("specOf(%v) = %q, %v, %v; want %q, %v, %v", tc.args, path, inProcess, ok, tc.path, tc.inProcess, tc.ok)
		}
	}
}

func TestCapBounding(t *testing.T) {
	got, err := capBounding("Name:\tx\nCapPrm:\t0\nCapBnd:\t000001fffeffffff\n")
	if err != nil || got != boundingWithoutSysResource {
		t.Errorf("capBounding = %x, %v", got, err)
	}
}

func TestRaiseOOMScoreAdj(t *testing.T) {
	out, changed, err := RaiseOOMScoreAdj([]byte(`{"process":{"oomScoreAdj":-998,"args":["/pause"]}}`), 0)
	if err != nil || !changed || string(out) != `{"process":{"args":["/pause"],"oomScoreAdj":0}}` {
		t.Errorf("changed=%v err=%v out=%s", changed, err, out)
	}
	for _, in := range []string{`{"process":{"oomScoreAdj":1000}}`, `{"process":{"args":["sh"]}}`} {
		out, changed, err := RaiseOOMScoreAdj([]byte(in), 0)
		if err != nil || changed || string(out) != in {
			t.Errorf("%s: changed=%v err=%v out=%s", in, changed, err, out)
		}
	}
}
