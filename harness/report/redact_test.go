package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/markdown/mdcheck"
)

// secretEnv is an environment as a kind node's docker inspect, a log or a
// command line carries it: proxies with credentials, tokens, passwords.
const secretEnv = "HTTPS_PROXY=http://user:s3cret@proxy.example:3128 http_proxy=http://admin:s3cret@10.0.0.1:8080 " +
	"GITHUB_TOKEN=ghp_s3cret DOCKER_AUTH_CONFIG=s3cret REGISTRY_PASSWORD=s3cret AWS_SECRET_ACCESS_KEY=s3cret NO_PROXY=localhost"

// A report whose every string carries credentials from an environment,
// written beside kind's docker inspect and kubeadm.conf holding them too:
// no file Write produces, nor the bundle, nor a matrix's JUnit, holds
// the secret; the proxies' hosts are still there.
func TestNoSecretInReportSummaryJUnitOrBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := &Report{}
	mdcheck.Fill(r, secretEnv)
	r.RunID, r.SchemaVersion = "20261206T080000Z-kind-1", SchemaVersion
	r.Verdict.Result = Reproduced
	planted := map[string]string{
		"kind-logs/relapse-kind-control-plane/inspect.json": `[{"Config": {"Env": ["container=docker", "HTTPS_PROXY=http://user:s3cret@proxy.example:3128",
  "https_proxy=http://user:s3cret@proxy.example:3128", "NO_PROXY=localhost"]}}]`,
		"kubeadm.conf": "apiVersion: kubeadm.k8s.io/v1beta3\nbootstrapTokens:\n- token: abcdef.s3cret\nkind: InitConfiguration\n",
		"kind.log":     "I1206 running: docker run --env HTTPS_PROXY=http://user:s3cret@proxy.example:3128 kindest/node\n",
	}
	for rel, text := range planted {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := Write(dir, r)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !strings.Contains(r.Host.Uname, "s3cret") {
		t.Error("Write changed the caller's report")
	}
	suite := filepath.Join(t.TempDir(), "matrix-junit.xml")
	if err := WriteJUnitSuite(suite, []*Report{r}); err != nil {
		t.Fatal(err)
	}

	files := map[string][]byte{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		files[p] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files[suite], _ = os.ReadFile(suite)
	for name, data := range bundleFiles(t, paths.Bundle) {
		files["bundle:"+name] = data
	}
	for _, want := range []string{paths.JSON, paths.HTML, paths.JUnit, paths.Markdown, "bundle:run/summary.md", "bundle:run/kubeadm.conf", "bundle:run/kind-logs/relapse-kind-control-plane/inspect.json"} {
		if _, ok := files[want]; !ok {
			t.Errorf("%s was not written", want)
		}
	}
	for name, data := range files {
		if bytes.Contains(data, []byte("s3cret")) {
			t.Errorf("%s holds the secret:\n%s", name, firstLines(string(data), 5))
		}
	}
	if !bytes.Contains(files[filepath.Join(dir, "kind-logs/relapse-kind-control-plane/inspect.json")], []byte("http://REDACTED@proxy.example:3128")) {
		t.Error("inspect.json lost the proxy's host along with its credentials")
	}
}

// bundleFiles reads every regular file of a .tar.gz.
func bundleFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = data
		}
	}
}
