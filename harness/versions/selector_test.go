package versions

import (
	"strings"
	"testing"
	"time"
)

// A listing as the proxy gives it for runc on 2026-12-06: unordered,
// with release candidates and a pre-release of the next line.
var runcListing = []string{"v1.4.4", "v1.5.0-rc.2", "v1.3.0", "v1.5.3", "v1.2.6", "v1.4.0", "v1.5.0", "v1.6.0-rc.1", "v1.3.3", "v1.0.0-rc93", "v1.1.14"}

func TestParseSelector(t *testing.T) {
	for in, want := range map[string]Selector{
		"latest":      {Text: "latest"},
		" latest ":    {Text: "latest"},
		"latest-1.4":  {Text: "latest-1.4", Line: "v1.4"},
		"latest-2.10": {Text: "latest-2.10", Line: "v2.10"},
		"maintained":  {Text: "maintained"},
	} {
		got, ok := ParseSelector(in)
		if !ok || got != want {
			t.Errorf("ParseSelector(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "latest-1", "latest-1.4.2", "latest-x.y", "latest1.4", "Latest", "newest", "maintained-1.4", "1.5.3", "rc93"} {
		if _, ok := ParseSelector(in); ok {
			t.Errorf("ParseSelector(%q) accepted a string that is not a selector", in)
		}
	}
}

func TestPick(t *testing.T) {
	today := day(2026, 12, 6)
	three := Maintenance{NewestLines: 3, Source: "test"}
	for _, tc := range []struct {
		sel  string
		m    Maintenance
		want string
	}{
		{"latest", three, "v1.5.3"}, // v1.6.0-rc.1 is newer but a pre-release
		{"latest-1.4", three, "v1.4.4"},
		{"latest-1.3", three, "v1.3.3"},
		{"latest-1.0", three, ""}, // only an rc of 1.0 is listed
		{"maintained", three, "v1.5.3 v1.4.4 v1.3.3"},
		{"maintained", Maintenance{NewestLines: 1}, "v1.5.3"},
		{"maintained", Maintenance{EndOfLife: map[string]time.Time{"v1.4": day(2027, 1, 1), "v1.3": day(2026, 12, 6), "v1.1": day(2030, 1, 1)}}, "v1.4.4 v1.1.14"},
		{"maintained", Maintenance{}, ""},
	} {
		sel, _ := ParseSelector(tc.sel)
		got, err := sel.Pick(runcListing, tc.m, today)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s with %+v picked %v; want an error", tc.sel, tc.m, got)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%s with %+v = %v, %v; want %s", tc.sel, tc.m, got, err, tc.want)
		}
	}
	if _, err := (Selector{Text: "latest"}).Pick([]string{"v1.6.0-rc.1"}, three, today); err == nil || !strings.Contains(err.Error(), "only pre-releases") {
		t.Errorf("a listing of pre-releases only: err = %v", err)
	}
	sel, _ := ParseSelector("latest-1.9")
	if _, err := sel.Pick(runcListing, three, today); err == nil || !strings.Contains(err.Error(), "lines listed: 1.5, 1.4, 1.3, 1.2, 1.1") {
		t.Errorf("a line that is not listed should name the lines that are: %v", err)
	}
}

func TestNormalizeKeepsSelectors(t *testing.T) {
	for _, s := range []string{"latest", "latest-1.4", "maintained"} {
		got, err := Runc.Normalize(s)
		if err != nil || got != s {
			t.Errorf("Normalize(%q) = %q, %v; want it unchanged for Resolve", s, got, err)
		}
	}
	if _, err := Runc.Normalize("latest-"); err == nil {
		t.Error(`Normalize("latest-") accepted a broken selector`)
	}
}

// The declared policies name a source, so a report can say where
// "maintained" came from.
func TestMaintenanceDeclared(t *testing.T) {
	for _, c := range []Component{Runc, Containerd, Kubernetes} {
		if c.Maintenance.Source == "" || (c.Maintenance.NewestLines == 0 && len(c.Maintenance.EndOfLife) == 0) {
			t.Errorf("%s declares no maintenance policy with its source", c.Name)
		}
	}
}

func TestModuleFor(t *testing.T) {
	for v, want := range map[string]string{
		"v1.7.30":               "github.com/containerd/containerd",
		"v2.4.2":                "github.com/containerd/containerd/v2",
		"v3.0.0-rc.1":           "github.com/containerd/containerd/v3",
		"v2.0.0+incompatible":   "github.com/containerd/containerd",
		"v0.0.0-source-abc.def": "github.com/containerd/containerd",
	} {
		if got := Containerd.ModuleFor(v); got != want {
			t.Errorf("ModuleFor(%s) = %s; want %s", v, got, want)
		}
	}
	for path, want := range map[string]bool{
		"github.com/containerd/containerd": true, "github.com/containerd/containerd/v2": true,
		"github.com/containerd/containerd/v1": false, "github.com/containerd/containerd/v2x": false,
		"github.com/containerd/containerd/api": false, "github.com/containerd/containerd/v": false,
	} {
		if got := Containerd.isModule(path); got != want {
			t.Errorf("isModule(%s) = %v; want %v", path, got, want)
		}
	}
}
