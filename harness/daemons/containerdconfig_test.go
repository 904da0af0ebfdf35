package daemons

import (
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// decoded is a rendered config read back with a TOML parser, as
// containerd reads it.
func decoded(t *testing.T, c ContainerdConfig) map[string]any {
	t.Helper()
	text, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if _, err := toml.Decode(text, &doc); err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, text)
	}
	return doc
}

func table(t *testing.T, doc map[string]any, path ...string) map[string]any {
	t.Helper()
	cur := doc
	for _, k := range path {
		next, ok := cur[k].(map[string]any)
		if !ok {
			t.Fatalf("no table %q in %v", strings.Join(path, "."), doc)
		}
		cur = next
	}
	return cur
}

var sample = ContainerdConfig{Root: "/run/relapse/r/root", State: "/run/relapse/r/state", GRPC: "/run/relapse/r/c.sock",
	Debug: "/run/relapse/r/debug.sock", Metrics: "127.0.0.1:1338"}

func TestContainerdConfigVersion2Layout(t *testing.T) {
	c := sample
	c.Version = 2
	doc := decoded(t, c)
	if doc["version"] != int64(2) || doc["root"] != c.Root || doc["state"] != c.State {
		t.Errorf("top level = %v", doc)
	}
	if got := doc["disabled_plugins"]; !reflect.DeepEqual(got, []any{"io.containerd.grpc.v1.cri"}) {
		t.Errorf("disabled_plugins = %v: 1.x has one CRI plugin and no NRI on by default", got)
	}
	if table(t, doc, "grpc")["address"] != c.GRPC || table(t, doc, "ttrpc")["address"] != c.GRPC+".ttrpc" {
		t.Errorf("sockets = %v %v", doc["grpc"], doc["ttrpc"])
	}
	if d := table(t, doc, "debug"); d["address"] != c.Debug || d["level"] != "info" {
		t.Errorf("debug = %v", d)
	}
	if table(t, doc, "metrics")["address"] != c.Metrics {
		t.Errorf("metrics = %v", doc["metrics"])
	}
	if _, ok := doc["plugins"]; ok {
		t.Errorf("version 2 has no server plugins: %v", doc["plugins"])
	}
}

func TestContainerdConfigVersion3Layout(t *testing.T) {
	c := sample
	c.Version = 3
	doc := decoded(t, c)
	if doc["version"] != int64(3) {
		t.Errorf("version = %v", doc["version"])
	}
	want := []any{"io.containerd.grpc.v1.cri", "io.containerd.nri.v1.nri"}
	if got := doc["disabled_plugins"]; !reflect.DeepEqual(got, want) {
		t.Errorf("disabled_plugins = %v, want %v (CRI's service and NRI; the images and runtime plugins back the sandbox controller)", got, want)
	}
	if table(t, doc, "grpc")["address"] != c.GRPC || table(t, doc, "debug")["address"] != c.Debug || table(t, doc, "metrics")["address"] != c.Metrics {
		t.Errorf("version 3 keeps the top-level server tables: %v", doc)
	}
}

func TestContainerdConfigVersion4Layout(t *testing.T) {
	c := sample
	c.Version = 4
	doc := decoded(t, c)
	if doc["version"] != int64(4) {
		t.Errorf("version = %v", doc["version"])
	}
	for _, moved := range []string{"grpc", "ttrpc", "metrics"} {
		if _, ok := doc[moved]; ok {
			t.Errorf("version 4 has no top-level [%s] (containerd migrates it and warns)", moved)
		}
	}
	if d := table(t, doc, "debug"); !reflect.DeepEqual(d, map[string]any{"level": "info"}) {
		t.Errorf("[debug] = %v, want only the level", d)
	}
	for plugin, want := range map[string]string{
		"io.containerd.server.v1.grpc":    c.GRPC,
		"io.containerd.server.v1.ttrpc":   c.GRPC + ".ttrpc",
		"io.containerd.server.v1.debug":   c.Debug,
		"io.containerd.server.v1.metrics": c.Metrics,
	} {
		if got := table(t, doc, "plugins", plugin)["address"]; got != want {
			t.Errorf("[plugins.%q] address = %v, want %s", plugin, got, want)
		}
	}
	text, _ := c.Render()
	if !strings.Contains(text, `[plugins."io.containerd.server.v1.grpc"]`) {
		t.Errorf("plugin tables are not quoted as containerd writes them:\n%s", text)
	}
}

func TestContainerdConfigWithoutMetrics(t *testing.T) {
	for _, v := range []int{2, 3, 4} {
		c := sample
		c.Version, c.Metrics = v, ""
		text, err := c.Render()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "metrics") {
			t.Errorf("version %d without metrics mentions them:\n%s", v, text)
		}
	}
}

func TestContainerdConfigUnknownVersion(t *testing.T) {
	for _, v := range []int{0, 1, 5} {
		c := sample
		c.Version = v
		if _, err := c.Render(); err == nil || !strings.Contains(err.Error(), "relapse writes versions 2") {
			t.Errorf("version %d: err = %v, want one naming the versions relapse writes", v, err)
		}
	}
}

func TestParseConfigVersion(t *testing.T) {
	for text, want := range map[string]int{
		// containerd 1.6 prints the version after the top-level lists.
		"disabled_plugins = []\nimports = []\noom_score = 0\nplugin_dir = \"\"\nrequired_plugins = []\nroot = \"/var/lib/containerd\"\nstate = \"/run/containerd\"\ntemp = \"\"\nversion = 2\n\n[cgroup]\n": 2,
		// containerd 2.4 prints it first, with single-quoted strings.
		"version = 4\nroot = '/var/lib/containerd'\n": 4,
		"version = 3\n": 3,
	} {
		got, err := ParseConfigVersion(text)
		if err != nil || got != want {
			t.Errorf("ParseConfigVersion(%q) = %d, %v; want %d", text, got, err, want)
		}
	}
	if _, err := ParseConfigVersion("[plugins]\n  version = 2\n"); err == nil {
		t.Error("an indented plugin key was taken for the file's version")
	}
}

func TestConfigComplaints(t *testing.T) {
	log := "time=\"x\" level=info msg=\"starting containerd\"\n" +
		"time=\"x\" level=warning msg=\"Configuration migrated from version 2, use `containerd config migrate` to avoid migration\"\n" +
		"time=\"x\" level=warning msg=\"failed check for fsverity support\"\n" +
		"time=\"x\" level=warning msg=\"Ignoring unknown key in TOML\" key=grpc.bogus\n"
	got := ConfigComplaints(log)
	if len(got) != 2 || !strings.Contains(got[0], "migrated from version 2") || !strings.Contains(got[1], "unknown key") {
		t.Errorf("ConfigComplaints = %q", got)
	}
	if got := ConfigComplaints("level=info msg=\"containerd successfully booted\"\n"); len(got) != 0 {
		t.Errorf("a clean log complains: %q", got)
	}
}

// A config with a CRI section keeps the CRI service on (NRI stays off on
// 2.x) and the section's tables parse beside relapse's own.
func TestContainerdConfigWithCRI(t *testing.T) {
	for _, tc := range []struct {
		version int
		cri     string
		table   []string
		off     []any
	}{
		{ContainerdConfigV2, "\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"relapse.local/pause:1\"\n",
			[]string{"plugins", "io.containerd.grpc.v1.cri"}, nil},
		{ContainerdConfigV4, "\n[plugins.\"io.containerd.cri.v1.images\"]\n  pinned_images.sandbox = \"relapse.local/pause:1\"\n",
			[]string{"plugins", "io.containerd.cri.v1.images"}, []any{"io.containerd.nri.v1.nri"}},
	} {
		c := sample
		c.Version, c.CRI = tc.version, tc.cri
		doc := decoded(t, c)
		table(t, doc, tc.table...)
		off, _ := doc["disabled_plugins"].([]any)
		if !reflect.DeepEqual(off, tc.off) {
			t.Errorf("version %d with CRI: disabled_plugins %v, want %v", tc.version, off, tc.off)
		}
		if tc.version == ContainerdConfigV4 {
			table(t, doc, "plugins", "io.containerd.server.v1.grpc")
		}
	}
}
