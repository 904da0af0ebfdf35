//go:build relapse_k8s

// Tests that need a Kubernetes release from the Go module proxy: `make
// test-k8s` builds the tag relapse_k8s and runs them after the cluster
// suites, which download and build v1.30.14 anyway. `make test` never
// fetches k8s.io/kubernetes, so there they would only ever skip.
package versions

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kubernetesGoMod is the go.mod of k8s.io/kubernetes at version, from the
// module cache (`go mod download` fetches it when it is not there yet).
func kubernetesGoMod(t *testing.T, version string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@"+version)
	cmd.Env = kubeEnv(false)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download k8s.io/kubernetes@%s: %v\n%s", version, err, out)
	}
	var dl struct{ GoMod string }
	if err := json.Unmarshal(out, &dl); err != nil || dl.GoMod == "" {
		t.Fatalf("go mod download -json k8s.io/kubernetes@%s names no go.mod: %v\n%s", version, err, out)
	}
	gomod, err := os.ReadFile(dl.GoMod)
	if err != nil {
		t.Fatal(err)
	}
	return string(gomod)
}

// TestK8sHostKubeWrapperGoMod runs the rewriting over a release's real
// go.mod: every staging module must become a versioned module and no
// local path may remain.
func TestK8sHostKubeWrapperGoMod(t *testing.T) {
	got, err := kubeWrapperGoMod(kubernetesGoMod(t, "v1.30.14"), "v1.30.14", "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "./") || !strings.Contains(got, "\tk8s.io/kubelet => k8s.io/kubelet v0.30.14\n") {
		t.Errorf("wrapper go.mod:\n%s", got)
	}
}

// TestK8sHostKubernetesBuild builds one release into the relapse cache
// (1.30.14, the cluster suites' version, so a cache hit after them;
// RELAPSE_BUILD_KUBERNETES names another), runs each binary, and finds it
// cached the second time.
//
//	RELAPSE_BUILD_KUBERNETES=1.19.3 go test -tags relapse_k8s -run TestK8sHostKubernetesBuild -v -timeout 60m ./harness/versions/
func TestK8sHostKubernetesBuild(t *testing.T) {
	requested := os.Getenv("RELAPSE_BUILD_KUBERNETES")
	if requested == "" {
		requested = "1.30.14"
	}
	ctx := context.Background()
	r, err := Kubernetes.Resolve(ctx, requested)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	art, err := KubernetesRecipe.Build(ctx, r, cacheDir(t))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Logf("%s %s (%s): %s, cached=%v, %.0f s\n%s", art.Component, art.Version, art.Sum, art.Path, art.Cached, art.BuildSeconds, art.BuildCommand)
	for _, name := range KubernetesRecipe.names() {
		args, ok := map[string][]string{"kubectl": {"version", "--client"}, "kubeadm": {"version", "-o", "short"}}[name]
		if !ok {
			args = []string{"--version"}
		}
		out, err := exec.Command(filepath.Join(art.Path, name), args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), r.Version) {
			t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		t.Logf("%s: %s", name, strings.TrimSpace(string(out)))
	}
	again, err := KubernetesRecipe.Build(ctx, r, cacheDir(t))
	if err != nil || !again.Cached || again.Path != art.Path {
		t.Errorf("second Build = %+v, %v; want a cache hit at %s", again, err, art.Path)
	}
}

func cacheDir(t *testing.T) string {
	t.Helper()
	dir, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
