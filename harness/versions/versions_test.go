package versions

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParsePinsGoodFile(t *testing.T) {
	const file = `# comment line
# alias version note

rc93      v1.0.0-rc93      affected by containerd#5261: runc init hangs
  rc94  v1.0.0-rc94
1.1.12 v1.1.12 the	tabbed   note
`
	pins, err := parsePins("runc", bufio.NewScanner(strings.NewReader(file)))
	if err != nil {
		t.Fatalf("parsePins: %v", err)
	}
	want := []Pin{
		{Alias: "rc93", Version: "v1.0.0-rc93", Note: "affected by containerd#5261: runc init hangs"},
		{Alias: "rc94", Version: "v1.0.0-rc94", Note: ""},
		{Alias: "1.1.12", Version: "v1.1.12", Note: "the tabbed note"},
	}
	if !reflect.DeepEqual(pins, want) {
		t.Errorf("pins = %+v\nwant %+v", pins, want)
	}
}

func TestParsePinsBadLineNamesLineNumber(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"alias only on line 4", "# header\n\nrc93 v1.0.0-rc93\nrc94\n", `pins/runc.pins line 4: want "alias version [commit] [note]", got "rc94"`},
		{"first line", "justone\n", "pins/runc.pins line 1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pins, err := parsePins("runc", bufio.NewScanner(strings.NewReader(tt.file)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
			if pins != nil {
				t.Errorf("pins = %+v, want nil on error", pins)
			}
		})
	}
}

func TestEmbeddedRuncPins(t *testing.T) {
	if Runc.Name != "runc" || Runc.Module != "github.com/opencontainers/runc" {
		t.Errorf("Runc = %q %q", Runc.Name, Runc.Module)
	}
	want := map[string]string{"rc92": "v1.0.0-rc92", "rc93": "v1.0.0-rc93", "rc94": "v1.0.0-rc94", "1.1.14": "v1.1.14"}
	for alias, version := range want {
		p, ok := Runc.lookup(alias)
		if !ok || p.Version != version {
			t.Errorf("lookup(%q) = %+v, %v; want %s", alias, p, ok, version)
		}
	}
	known := Runc.Known()
	if !strings.Contains(known, "rc93") || !strings.Contains(known, "v1.0.0-rc94") {
		t.Errorf("Known() lacks rc93 or v1.0.0-rc94:\n%s", known)
	}
	if got := strings.Count(known, "\n"); got != len(Runc.Pins) {
		t.Errorf("Known() has %d lines, want one per pin (%d)", got, len(Runc.Pins))
	}
}

func TestRuncNormalize(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"rc93", "v1.0.0-rc93"},
		{"v1.0.0-rc93", "v1.0.0-rc93"},
		{"1.0.0-rc93", "v1.0.0-rc93"},
		{" rc93\n", "v1.0.0-rc93"},
		{"rc94", "v1.0.0-rc94"},
		{"1.1.12", "v1.1.12"}, // not pinned but semver
		{"v1.1.12", "v1.1.12"},
		{"1.2.0-rc.1", "v1.2.0-rc.1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Runc.Normalize(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRuncNormalizeRejectsNonVersions(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"nonsense", "not a known alias and not a semantic version"},
		{"", "no version given"},
		{"   ", "no version given"},
		{"1.1", "not a known alias and not a semantic version"},
		{"rc96", "not a known alias and not a semantic version"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Runc.Normalize(tt.in)
			if got != "" {
				t.Errorf("Normalize(%q) = %q, want empty", tt.in, got)
			}
			var uv *UnknownVersionError
			if !errors.As(err, &uv) {
				t.Fatalf("err = %T %v, want *UnknownVersionError", err, err)
			}
			if uv.Requested != tt.in || uv.Reason != tt.reason {
				t.Errorf("Requested, Reason = %q, %q; want %q, %q", uv.Requested, uv.Reason, tt.in, tt.reason)
			}
			msg := err.Error()
			for _, want := range []string{`unknown runc version "` + tt.in + `"`, tt.reason, "rc93", "v1.0.0-rc93", "v1.0.0-rc94", "1.1.12"} {
				if !strings.Contains(msg, want) {
					t.Errorf("Error() lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}

func TestResolvedSemVer(t *testing.T) {
	if got := (Resolved{Version: "v1.0.0-rc93"}).SemVer(); got != "1.0.0-rc93" {
		t.Errorf("SemVer = %q", got)
	}
}

func TestRuncRecipeArgs(t *testing.T) {
	r := Resolved{Component: "runc", Module: "github.com/opencontainers/runc", Version: "v1.0.0-rc93"}
	want := []string{"install", "-tags", "seccomp",
		"-ldflags", "-X main.version=1.0.0-rc93 -X main.gitCommit=module-v1.0.0-rc93",
		"github.com/opencontainers/runc@v1.0.0-rc93"}
	if got := RuncRecipe.args(r); !reflect.DeepEqual(got, want) {
		t.Errorf("args = %q\nwant %q", got, want)
	}
}

func TestRuncRecipeCommand(t *testing.T) {
	r := Resolved{Version: "v1.0.0-rc93"}
	got := RuncRecipe.command(r)
	want := "GOTOOLCHAIN=local CGO_ENABLED=1 GOBIN=$PWD go install -tags seccomp " +
		"-ldflags '-X main.version=1.0.0-rc93 -X main.gitCommit=module-v1.0.0-rc93' github.com/opencontainers/runc@v1.0.0-rc93"
	if got != want {
		t.Errorf("command =\n%s\nwant\n%s", got, want)
	}
	for _, part := range []string{"-tags seccomp", "-X main.version=1.0.0-rc93"} {
		if !strings.Contains(got, part) {
			t.Errorf("command lacks %q", part)
		}
	}
}

func TestRecipeArgsWithPackageAndTags(t *testing.T) {
	tests := []struct {
		name string
		rc   Recipe
		want []string
	}{
		{"package and two tags", Recipe{Component: Component{Module: "example.com/m"}, Package: "cmd/x", Tags: []string{"a", "b"}},
			[]string{"install", "-tags", "a,b", "example.com/m/cmd/x@v1.2.3"}},
		{"bare module", Recipe{Component: Component{Module: "example.com/m"}},
			[]string{"install", "example.com/m@v1.2.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rc.args(Resolved{Version: "v1.2.3"}); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("args = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCacheDirHonoursRelapseCache(t *testing.T) {
	t.Setenv("RELAPSE_CACHE", "/srv/relapse-cache")
	if got, err := CacheDir(); got != "/srv/relapse-cache" || err != nil {
		t.Errorf("CacheDir = %q, %v", got, err)
	}
	t.Setenv("RELAPSE_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if got, err := CacheDir(); got != filepath.Join("/tmp/xdg", "relapse") || err != nil {
		t.Errorf("CacheDir without RELAPSE_CACHE = %q, %v; want /tmp/xdg/relapse", got, err)
	}
}

// Without a home the cache falls back to a fixed name in the temporary
// directory: relapse's own private directory there, never one another user
// made first.
func TestCacheDirFallbackIsPrivate(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("RELAPSE_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	want := filepath.Join(tmp, "relapse-cache")
	got, err := CacheDir()
	if err != nil || got != want {
		t.Fatalf("CacheDir = %q, %v; want %s", got, err, want)
	}
	if fi, err := os.Lstat(got); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("fallback cache %s: %v, mode %v; want a directory of mode 0700", got, err, fi.Mode())
	}
	if err := os.Chmod(got, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := CacheDir(); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "RELAPSE_CACHE") {
		t.Errorf("a fallback cache others may write to: err = %v, want a refusal naming %s and RELAPSE_CACHE", err, want)
	}
}

// Every pinned runc, containerd and Kubernetes release names its upstream
// commit, which reports print beside the module sum.
func TestPinsNameReleaseCommits(t *testing.T) {
	for _, c := range []Component{Runc, Containerd, Kubernetes} {
		for _, p := range c.Pins {
			if !fullCommit.MatchString(p.Commit) {
				t.Errorf("%s %s: release commit %q, want the 40-hex commit its tag points to", c.Name, p.Version, p.Commit)
			}
		}
	}
	if p, _ := Runc.lookup("rc93"); p.Commit != "12644e614e25b05da6fd08a38ffa0cfe1903fdec" || p.Note == "" {
		t.Errorf("rc93 pin = %+v", p)
	}
}
