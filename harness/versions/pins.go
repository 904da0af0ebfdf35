package versions

import (
	"bufio"
	"embed"
	"fmt"
	"regexp"
	"strings"

	modsemver "golang.org/x/mod/semver"
)

// fullCommit is a whole git commit hash, as pin files write them.
var fullCommit = regexp.MustCompile(`^[0-9a-f]{40}$`)

//go:embed pins/*.pins
var pinFiles embed.FS

// Pin is one known version of a component.
type Pin struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
	// Commit is the upstream commit the release tag points to, looked up
	// once and written in the pin file ("" when the file has "-").
	Commit string `json:"commit,omitempty"`
	Note   string `json:"note"`
}

// Component is something relapse builds at a chosen version.
type Component struct {
	// Name is the short name used in flags and cache paths ("runc").
	Name string
	// Module is the Go module path its source comes from.
	Module string
	Pins   []Pin
	// Maintenance is upstream's support policy: which lines the
	// "maintained" selector names.
	Maintenance Maintenance
}

// Runc is the OCI runtime. runc's RELEASES.md ("Support Policy", read
// 2026-12-06) keeps the latest minor line and the two before it
// (latest-1 significant fixes, latest-2 high-severity security fixes).
var Runc = mustComponent("runc", "github.com/opencontainers/runc",
	Maintenance{NewestLines: 3, Source: `runc RELEASES.md "Support Policy": latest, latest-1 and latest-2 (read 2026-12-06)`})

func mustComponent(name, module string, m Maintenance) Component {
	pins, err := loadPins(name)
	if err != nil {
		panic(err)
	}
	return Component{Name: name, Module: module, Pins: pins, Maintenance: m}
}

// LoadPins reads the pin file of a component that is not built from Go
// modules (the guest kernel).
func LoadPins(name string) ([]Pin, error) { return loadPins(name) }

func loadPins(name string) ([]Pin, error) {
	f, err := pinFiles.Open("pins/" + name + ".pins")
	if err != nil {
		return nil, fmt.Errorf("pin file for %s: %w", name, err)
	}
	defer f.Close()
	return parsePins(name, bufio.NewScanner(f))
}

func parsePins(name string, sc *bufio.Scanner) ([]Pin, error) {
	var pins []Pin
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) < 2 {
			return nil, fmt.Errorf("pins/%s.pins line %d: want \"alias version [commit] [note]\", got %q", name, line, text)
		}
		pin := Pin{Alias: f[0], Version: f[1]}
		rest := f[2:]
		if len(rest) > 0 && (rest[0] == "-" || fullCommit.MatchString(rest[0])) {
			pin.Commit = strings.TrimPrefix(rest[0], "-")
			rest = rest[1:]
		}
		pin.Note = strings.Join(rest, " ")
		pins = append(pins, pin)
	}
	return pins, sc.Err()
}

// ModuleFor is the module path of a version: Go's semantic import
// versioning puts major versions from 2 on under Module/vN
// (containerd 2.x is github.com/containerd/containerd/v2).
func (c Component) ModuleFor(version string) string {
	major := modsemver.Major(version)
	if major == "" || major == "v0" || major == "v1" || modsemver.Build(version) == "+incompatible" {
		return c.Module
	}
	return c.Module + "/" + major
}

// moduleOf is the module a resolved version was downloaded as (a record
// from before major versions were told apart has none: derive it).
func (c Component) moduleOf(r Resolved) string {
	if r.Module != "" {
		return r.Module
	}
	return c.ModuleFor(r.Version)
}

// isModule says whether a module path is the component's, at any major version.
func (c Component) isModule(path string) bool {
	if path == c.Module {
		return true
	}
	rest, ok := strings.CutPrefix(path, c.Module+"/v")
	return ok && rest != "" && rest != "0" && rest != "1" && strings.Trim(rest, "0123456789") == ""
}

// Known lists the aliases with their versions, one per line, for error messages.
func (c Component) Known() string {
	var b strings.Builder
	for _, p := range c.Pins {
		fmt.Fprintf(&b, "  %-8s %-14s %s\n", p.Alias, p.Version, p.Note)
	}
	return b.String()
}

// lookup finds a pin by alias or by its exact version (with or without "v").
func (c Component) lookup(s string) (Pin, bool) {
	for _, p := range c.Pins {
		if s == p.Alias || s == p.Version || "v"+s == p.Version {
			return p, true
		}
	}
	return Pin{}, false
}
