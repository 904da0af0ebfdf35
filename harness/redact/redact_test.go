package redact

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTextRedactsCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS_PROXY=http://user:s3cret@proxy.example:3128":        "HTTPS_PROXY=http://" + Mask + "@proxy.example:3128",
		"http_proxy=http://user:p@ss:w0rd@proxy:8080/ x":           "http_proxy=http://" + Mask + "@proxy:8080/ x",
		`"Env": ["HTTPS_PROXY=https://u:s3cret@p.example", "A=1"]`: `"Env": ["HTTPS_PROXY=https://` + Mask + `@p.example", "A=1"]`,
		"GITHUB_TOKEN=ghp_s3cret go build":                         "GITHUB_TOKEN=" + Mask + " go build",
		`export DB_PASSWORD="s3cret value"`:                        `export DB_PASSWORD="` + Mask + `"`,
		"AWS_SECRET_ACCESS_KEY='s3cret'":                           "AWS_SECRET_ACCESS_KEY='" + Mask + "'",
		"relapse --token=s3cret run":                               "relapse --token=" + Mask + " run",
		"- token: abcdef.s3cret\n  ttl: 24h":                       "- token: " + Mask + "\n  ttl: 24h",
		`{"password": "s3cret", "user": "me"}`:                     `{"password": "` + Mask + `", "user": "me"}`,
		"Authorization: Bearer s3cret":                             "Authorization: " + Mask,
		"git clone https://oauth2:s3cret@gitlab.example/x.git":     "git clone https://" + Mask + "@gitlab.example/x.git",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

// What is not a credential stays as it was: proxies without one, ordinary
// assignments, YAML that only looks alike, e-mail and scp-style addresses.
func TestTextLeavesTheRestAlone(t *testing.T) {
	for _, s := range []string{
		"HTTPS_PROXY=http://proxy.example:3128 NO_PROXY=localhost,10.0.0.0/8",
		"GOFLAGS=-mod=mod CGO_ENABLED=0 go build -tags seccomp",
		"authorization-mode: Webhook\nbootstrapTokens:\n- groups: [system:bootstrappers]",
		"sysctl key=fs.pipe-user-pages-soft old=16384 new=1",
		"maintainer@example.org git@github.com:opencontainers/runc.git",
		"runc v1.0.0-rc93 (patched: revert-2871.patch) https://github.com/opencontainers/runc/issues/2828",
		"TOKEN=",
	} {
		if got := Text(s); got != s {
			t.Errorf("Text(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestCopyRedactsEveryStringAndLeavesTheOriginal(t *testing.T) {
	type name string
	type inner struct {
		Env  []string
		Vars map[string]string
		Arr  [1]name
	}
	type outer struct {
		A   string
		P   *inner
		Any any
		Nil *inner
	}
	v := outer{A: "X_TOKEN=s3cret", Any: "PASSWORD=s3cret",
		P: &inner{Env: []string{"HTTPS_PROXY=http://u:s3cret@p:1"}, Vars: map[string]string{"k": "PASSWORD=s3cret", "AUTH=s3cret": "v"}, Arr: [1]name{"SECRET=s3cret"}}}
	c := Copy(v)
	if got := fmt.Sprintf("%+v %+v", c, *c.P); strings.Contains(got, "s3cret") {
		t.Errorf("Copy left a secret: %s", got)
	}
	if want := map[string]string{"k": "PASSWORD=" + Mask, "AUTH=" + Mask: "v"}; !reflect.DeepEqual(c.P.Vars, want) {
		t.Errorf("map = %v, want %v", c.P.Vars, want)
	}
	if got := fmt.Sprintf("%+v %+v", v, *v.P); strings.Count(got, "s3cret") != 6 {
		t.Errorf("Copy changed the original: %s", got)
	}
}

func TestFilesRedactsTextAndLeavesBinaries(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "kind-logs", "node", "inspect.json")
	binary := filepath.Join(dir, "rootfs", "init")
	plain := filepath.Join(dir, "plain.log")
	for path, data := range map[string]string{
		text:   `[{"Config": {"Env": ["HTTPS_PROXY=http://user:s3cret@proxy.example:3128"]}}]`,
		binary: "\x7fELF\x00HTTPS_PROXY=http://user:s3cret@proxy.example:3128",
		plain:  "nothing to hide\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	changed, err := Files(dir)
	if err != nil || !reflect.DeepEqual(changed, []string{filepath.Join("kind-logs", "node", "inspect.json")}) {
		t.Fatalf("Files = %v, %v; want only inspect.json changed", changed, err)
	}
	data, _ := os.ReadFile(text)
	if strings.Contains(string(data), "s3cret") || !strings.Contains(string(data), "proxy.example:3128") {
		t.Errorf("inspect.json after Files: %s", data)
	}
	if st, _ := os.Stat(text); st.Mode().Perm() != 0o640 {
		t.Errorf("inspect.json mode %v, want 0640 kept", st.Mode().Perm())
	}
	if data, _ := os.ReadFile(binary); !strings.Contains(string(data), "s3cret") {
		t.Error("a binary file was rewritten")
	}
}
