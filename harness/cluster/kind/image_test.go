package kind

import (
	"strings"
	"testing"
)

// The version must be known in test binaries too (they carry no
// dependency list): it names the kind files the node image is built from.
func TestKindVersionIsKnown(t *testing.T) {
	if v := KindVersion(); !strings.HasPrefix(v, "v0.") {
		t.Errorf("KindVersion() = %q", v)
	}
}

func TestControlPlaneImages(t *testing.T) {
	for ref, want := range map[string]bool{
		"registry.k8s.io/kube-apiserver:v1.30.14": true, "k8s.gcr.io/kube-scheduler:v1.19.3": true,
		"registry.k8s.io/coredns/coredns:v1.11.3": false, "registry.k8s.io/kube-proxy:v1.30.14": false, "registry.k8s.io/pause:3.9": false,
	} {
		spec, ok, err := controlPlaneImage(ref, "/bin")
		if err != nil || ok != want || (ok && spec.Ref != ref) {
			t.Errorf("%s: ok=%v err=%v spec=%+v", ref, ok, err, spec)
		}
	}
	// etcd's image is Debian's etcd: TestK8sHostEtcdImage, run by make test-k8s.
}

func TestKubeletCgroupsScript(t *testing.T) {
	if s := kubeletCgroupsScript(true); !strings.Contains(s, "umount") {
		t.Errorf("cgroupfs script does not undo kind's bind mounts:\n%s", s)
	}
	if s := kubeletCgroupsScript(false); strings.Contains(s, "umount") {
		t.Errorf("systemd-driver script unmounts:\n%s", s)
	}
}
