package run

import (
	"strings"
	"testing"
)

func TestCheckTargetRefusesEmptyRelativeRootAndOutOfTree(t *testing.T) {
	root := "/tmp/relapse"
	for path, why := range map[string]string{
		"":                     "empty",
		".":                    "relative",
		"docker":               "relative",
		"tmp/relapse/x":        "relative",
		"/":                    "the root directory",
		"//":                   "the root directory",
		"/tmp/relapse":         "the tree itself",
		"/tmp/relapse/":        "the tree itself",
		"/tmp/relapse/x/..":    "the tree itself",
		"/tmp/relapse/../etc":  "outside /tmp/relapse",
		"/tmp/relapse-vm/x":    "outside /tmp/relapse",
		"/etc":                 "outside /tmp/relapse",
		"/tmp/relapse/a\x00/b": "NUL",
	} {
		got, err := CheckTarget("remove", path, root)
		if err == nil || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "refusing to remove") {
			t.Errorf("CheckTarget(%q) = %q, %v; want a refusal saying %q", path, got, err, why)
		}
	}
	for path, want := range map[string]string{
		"/tmp/relapse/abc":             "/tmp/relapse/abc",
		"/tmp/relapse/abc/docker/":     "/tmp/relapse/abc/docker",
		"/tmp/relapse/abc/../def/runc": "/tmp/relapse/def/runc",
	} {
		if got, err := CheckTarget("remove", path, root); err != nil || got != want {
			t.Errorf("CheckTarget(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
}

func TestCheckChildWantsDirectlyInside(t *testing.T) {
	if _, err := CheckChild("remove", "/tmp/relapse/abc/docker", "/tmp/relapse"); err == nil || !strings.Contains(err.Error(), "not directly inside /tmp/relapse") {
		t.Errorf("a grandchild: err = %v", err)
	}
	if _, err := CheckChild("remove", "", "/tmp/relapse"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty: err = %v", err)
	}
	if got, err := CheckChild("remove", "/tmp/relapse/abc", "/tmp/relapse"); err != nil || got != "/tmp/relapse/abc" {
		t.Errorf("a child: %q, %v", got, err)
	}
}

func TestCheckNameWantsOneRelapseName(t *testing.T) {
	for _, name := range []string{"", ".", "..", "/", "relapse-", "relapse-a/b", "relapse-a/", "../relapse-a", "user.slice", "system.slice", "relapse"} {
		if err := CheckName("remove the cgroup", name); err == nil {
			t.Errorf("CheckName(%q) = nil, want a refusal", name)
		}
	}
	for _, name := range []string{"relapse-ab12", "relapse-k8s-ab12", "relapse-podman-x"} {
		if err := CheckName("remove the cgroup", name); err != nil {
			t.Errorf("CheckName(%q) = %v", name, err)
		}
	}
}

func TestRunTargetAcceptsRegisteredTrees(t *testing.T) {
	saved := trees
	defer func() { trees = saved }()
	if _, err := RunTarget("kill the processes under", "/srv/relapse-vm/v-ab12/libvirt"); err == nil {
		t.Fatal("a directory outside DirRoot was accepted before its tree was registered")
	}
	RegisterTree(func() string { return "/srv/relapse-vm" })
	if got, err := RunTarget("kill the processes under", "/srv/relapse-vm/v-ab12/libvirt"); err != nil || got != "/srv/relapse-vm/v-ab12/libvirt" {
		t.Errorf("RunTarget in a registered tree = %q, %v", got, err)
	}
	for _, path := range []string{"", "/", "/srv/relapse-vm", "/srv/other", DirRoot()} {
		if _, err := RunTarget("kill the processes under", path); err == nil || !strings.Contains(err.Error(), "nor inside /srv/relapse-vm") {
			t.Errorf("RunTarget(%q) = %v, want a refusal naming both trees", path, err)
		}
	}
}

func TestRemoveDirRefusesOutsideDirRoot(t *testing.T) {
	for _, path := range []string{"", "/", ".", DirRoot(), DirRoot() + "/../etc", "/etc"} {
		if err := RemoveDir(path); err == nil {
			t.Errorf("RemoveDir(%q) = nil, want a refusal", path)
		}
	}
}
