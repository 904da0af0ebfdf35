//go:build relapse_k8s

// Tests that need the k8s dependency group (ci/deps.sh k8s: Debian's
// etcd): `make test-k8s` installs it and builds the tag relapse_k8s;
// `make test` has no etcd, so there they would only ever skip.
package kind

import "testing"

// The etcd control-plane image is Debian's etcd with the libraries it
// links.
func TestK8sHostEtcdImage(t *testing.T) {
	etcd, ok, err := controlPlaneImage("registry.k8s.io/etcd:3.5.15-0", "/bin")
	if err != nil || !ok {
		t.Fatalf("etcd image: ok=%v, %v; want Debian's etcd (ci/deps.sh k8s installs etcd-server)", ok, err)
	}
	if _, has := etcd.Files["usr/bin/etcd"]; !has || len(etcd.Files) < 2 {
		t.Errorf("etcd image without its libraries: %v", etcd.Files)
	}
}
