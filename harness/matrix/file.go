package matrix

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// File is a matrix file.
type File struct {
	// Name names the matrix in results ("nightly").
	Name   string  `json:"name"`
	Groups []Group `json:"cells"`
}

// Group is one entry of the file: list-valued dimensions to cross.
type Group struct {
	// Name, when set, prefixes the cells' IDs ("relapse-check").
	Name string `json:"name,omitempty"`
	// Kit stands for the groups the kit derives from bug declarations
	// (harness/kit Groups): "all" for every registered kit bug, or one
	// bug's name. Such an entry has no other field.
	Kit      string `json:"kit,omitempty"`
	Scenario string `json:"scenario"`
	// Speed is "fast" (make nightly runs it here) or "slow" (CI only).
	Speed string `json:"speed,omitempty"`
	// Canary marks cells that simulate a relapse on purpose: the night
	// must flag them. A cell is one exactly when one of its patches
	// reverts the bug's own fix (a "# Reverts-Fix:" header naming the
	// scenario's fix) or, for a kit bug whose fix shipped behind a
	// feature gate, its parameters turn that gate off; so the field may
	// be left out; when given it must agree.
	Canary *bool `json:"canary,omitempty"`
	// Versions lists versions per component.
	Versions map[string][]string `json:"versions,omitempty"`
	// Patches are applied to every cell of the group, per component.
	Patches map[string][]string `json:"patches,omitempty"`
	// Params lists values per scenario parameter.
	Params   map[string][]string `json:"params,omitempty"`
	Provider []string            `json:"provider,omitempty"`
	Kernel   []string            `json:"kernel,omitempty"`
	// Systemd lists a qemu node's systemd: "" (the root filesystem's) or
	// source:<Debian version> (built, with the group's systemd patches).
	Systemd []string `json:"systemd,omitempty"`
	// Repeat is the repetitions per cell (0: as the scenario's sampling needs).
	Repeat  int                 `json:"repeat,omitempty"`
	Exclude []map[string]string `json:"exclude,omitempty"`
	Include []map[string]string `json:"include,omitempty"`
}

// nodeDims are the dimensions that choose the node, not the scenario.
var nodeDims = map[string]bool{"provider": true, "kernel": true, "systemd": true}

// Cell is one experiment of the matrix.
type Cell struct {
	ID       string              `json:"id"`
	Group    string              `json:"group,omitempty"`
	Scenario string              `json:"scenario"`
	Speed    string              `json:"speed"`
	Canary   bool                `json:"canary,omitempty"`
	Versions map[string]string   `json:"versions,omitempty"`
	Patches  map[string][]string `json:"patches,omitempty"`
	Params   map[string]string   `json:"params,omitempty"`
	Provider string              `json:"provider"`
	Kernel   string              `json:"kernel,omitempty"`
	Systemd  string              `json:"systemd,omitempty"`
	Repeat   int                 `json:"repeat,omitempty"`
	// Deps are the groups of packages the cell needs beyond the base ones
	// (ci/deps.sh GROUP): "k8s" for clusters, "vm" for VM nodes, "engines"
	// and "podman" for the engines that drive runc.
	Deps []string `json:"deps,omitempty"`
	// Resolved is what the cell's selector versions meant when the matrix
	// was listed (Night.Resolve): "runc": "v1.5.3" for runc: latest.
	Resolved map[string]string `json:"resolved,omitempty"`
	// Requested is what the file wrote for a component when the cell runs
	// something narrower: "maintained" for a cell of one maintained line
	// (it runs latest-X.Y), "git:upstream@main" for a cell pointed at a
	// checkout. Results record it as the selector, so a row's label is
	// the same on every machine and every night.
	Requested map[string]string `json:"requested,omitempty"`
	// Skip says why the cell cannot run here (no checkout of the upstream
	// it follows): it reports INCONCLUSIVE with this reason, it does not
	// fail the night.
	Skip string `json:"skip,omitempty"`
}

// OwnVM says whether the cell runs in a VM of its own, so it changes
// nothing host-wide and may run beside others.
func (c Cell) OwnVM() bool { return c.Provider == "qemu" || c.Provider == "vagrant" }

// Load reads and expands a matrix file, checking every cell as `relapse
// repro` checks its flags before anything runs.
func Load(path string) (*File, []Cell, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	f, cells, err := Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, cells, nil
}

// Parse reads a matrix file's text: fields it does not know are errors,
// and so is a file without cells. Every cell is checked offline
// (experiment.Check: scenario, versions, parameters, node, repetitions,
// patches); patch paths are relative to the working directory (the
// repository root in CI), so a missing one fails here, not hours into the
// night.
func Parse(data []byte) (*File, []Cell, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, nil, err
	}
	if len(f.Groups) == 0 {
		return nil, nil, fmt.Errorf("no cells: a matrix file lists groups under \"cells:\", e.g.\n%s", example)
	}
	if f.Name == "" {
		f.Name = "matrix"
	}
	// Names go to the dashboard and CI logs: one printable line.
	if strings.ContainsFunc(f.Name, unicode.IsControl) {
		return nil, nil, fmt.Errorf("name %q: want one line of printable text", f.Name)
	}
	cells, err := f.checkedCells()
	if err != nil {
		return nil, nil, err
	}
	return &f, cells, nil
}

// checkedCells expands the groups and checks every cell offline.
func (f *File) checkedCells() ([]Cell, error) {
	cells, err := f.Expand()
	if err != nil {
		return nil, err
	}
	for _, c := range cells {
		if err := experiment.Check(c.options()); err != nil {
			return nil, fmt.Errorf("cell %s: %w", c.ID, err)
		}
	}
	return cells, nil
}

const example = `  name: nightly
  cells:
    - scenario: runc-pipe-hang
      versions:
        runc: [rc93, rc94]`

// options are the experiment a cell runs, as far as the file says.
func (c Cell) options() experiment.Options {
	return experiment.Options{Scenario: c.Scenario, Versions: c.Versions, Patches: c.Patches, Params: c.Params,
		Node: provision.Spec{Provider: c.Provider, Kernel: c.Kernel, Systemd: c.Systemd}, Repeat: c.Repeat}
}

// maxIDBytes is the longest cell ID: a file name on Linux file systems.
const maxIDBytes = 255

// Expand crosses every group's dimensions into cells.
func (f *File) Expand() ([]Cell, error) {
	var cells []Cell
	seen := map[string]bool{}
	groups, err := withKitGroups(f.Groups)
	if err != nil {
		return nil, err
	}
	for i, g := range groups {
		gc, err := g.expand()
		if err != nil {
			return nil, fmt.Errorf("cells[%d] (%s): %w", i, g.Scenario, err)
		}
		for _, c := range gc {
			// The ID is a directory name in every results tree.
			if len(c.ID) > maxIDBytes {
				return nil, fmt.Errorf("cells[%d]: cell ID %s is %d bytes, more than a directory name takes (%d): give the group a shorter name or fewer patches", i, c.ID, len(c.ID), maxIDBytes)
			}
			if seen[c.ID] {
				return nil, fmt.Errorf("cell %s appears twice: give one of the groups a name", c.ID)
			}
			seen[c.ID] = true
			cells = append(cells, c)
		}
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].ID < cells[j].ID })
	return cells, nil
}

// withKitGroups replaces each `kit:` entry with the groups the kit
// derives for its bugs, so a bug declared with the kit needs no hand
// edit of the matrix file.
func withKitGroups(groups []Group) ([]Group, error) {
	var out []Group
	for i, g := range groups {
		if g.Kit == "" {
			out = append(out, g)
			continue
		}
		if !reflect.DeepEqual(g, Group{Kit: g.Kit}) {
			return nil, fmt.Errorf("cells[%d]: a kit entry takes no other field (the kit derives its cells from each bug's declaration)", i)
		}
		bugs := kit.Bugs()
		if g.Kit != "all" {
			b, ok := kit.Lookup(g.Kit)
			if !ok {
				return nil, fmt.Errorf("cells[%d]: kit %q: want all or the name of a bug declared with the kit", i, g.Kit)
			}
			bugs = []*kit.Bug{b}
		}
		for _, b := range bugs {
			for _, kg := range kit.Groups(b) {
				vs := kg.Versions
				if len(kg.Patches) == 0 {
					// The fix pair and what ships: one rule for every bug
					// (BugGroup), so a kit bug follows upstream main too.
					vs = BugGroup(BugSpec{Scenario: kg.Scenario, Component: b.Component,
						LastAffected: b.LastAffected, FirstFixed: b.FirstFixed}).Versions
					if b.AffectedUnbuildable != "" {
						// No affected release builds: the revert group
						// is the affected side (kit.Groups says the same).
						vs = map[string][]string{b.Component: vs[b.Component][1:]}
					}
				}
				if len(kg.Patches) == 0 && len(kg.Params) > 0 {
					// A canary of parameters (the fix's gate off) runs
					// what the kit named, like a revert.
					vs = kg.Versions
				}
				out = append(out, Group{Name: kg.Name, Scenario: kg.Scenario, Speed: kg.Speed, Versions: vs,
					Patches: kg.Patches, Provider: kg.Provider, Params: kg.Params})
			}
		}
	}
	return out, nil
}

// dims are a group's dimensions, each with its values: components by
// name, parameters by name, "provider" and "kernel".
func (g Group) dims() (map[string][]string, error) {
	s, err := scenario.Lookup(g.Scenario)
	if err != nil {
		return nil, err
	}
	components := map[string]bool{}
	for _, b := range s.Components() {
		components[b.Target().Name] = true
	}
	params := map[string]scenario.Param{}
	for _, p := range s.Params() {
		params[p.Name] = p
	}
	d := map[string][]string{}
	for comp, vs := range g.Versions {
		if len(vs) == 0 {
			return nil, fmt.Errorf("versions of %s: an empty list makes no cells; list at least one version or leave %s out", comp, comp)
		}
		if !components[comp] {
			return nil, fmt.Errorf("scenario %s builds no %s (it builds %s)", s.Name(), comp, keys(components))
		}
		d[comp] = vs
	}
	for comp := range g.Patches {
		// linux and systemd patches go into the node's own builds from
		// Debian source; Prepare checks each cell has one.
		if !components[comp] && !experiment.IsNodeComponent(comp) {
			return nil, fmt.Errorf("patches for %s: scenario %s builds no %s", comp, s.Name(), comp)
		}
	}
	for name, vs := range g.Params {
		if len(vs) == 0 {
			return nil, fmt.Errorf("parameter %s: an empty list makes no cells; list at least one value or leave it out", name)
		}
		p, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("scenario %s has no parameter %q", s.Name(), name)
		}
		if _, clash := d[name]; clash || nodeDims[name] {
			return nil, fmt.Errorf("parameter %q clashes with a dimension of the same name", name)
		}
		for _, v := range vs {
			if p.Valid != nil {
				if err := p.Valid(v); err != nil {
					return nil, fmt.Errorf("parameter %s=%q: %w", name, v, err)
				}
			}
		}
		d[name] = vs
	}
	for name, vs := range map[string][]string{"provider": g.Provider, "kernel": g.Kernel, "systemd": g.Systemd} {
		if vs == nil {
			continue
		}
		if len(vs) == 0 {
			return nil, fmt.Errorf("%s: an empty list makes no cells; list at least one value or leave it out", name)
		}
		d[name] = vs
	}
	if strings.ContainsFunc(g.Name, unicode.IsControl) {
		return nil, fmt.Errorf("name %q: want one line of printable text", g.Name)
	}
	switch g.Speed {
	case "", "fast", "slow":
	default:
		return nil, fmt.Errorf("speed %q: want fast or slow", g.Speed)
	}
	return d, nil
}

func (g Group) expand() ([]Cell, error) {
	d, err := g.dims()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	sort.Strings(names)
	combos := []map[string]string{{}}
	for _, n := range names {
		var next []map[string]string
		for _, c := range combos {
			for _, v := range d[n] {
				m := copyMap(c)
				m[n] = v
				next = append(next, m)
			}
		}
		combos = next
	}
	for _, rule := range g.Exclude {
		if len(rule) == 0 {
			return nil, fmt.Errorf("an empty exclude entry would drop every cell; name the values it drops, e.g. {runc: rc94}")
		}
		for k := range rule {
			if _, ok := d[k]; !ok {
				return nil, fmt.Errorf("exclude names %q, which is no dimension of this group (it has %s)", k, strings.Join(sortedKeys(flatten(d)), ", "))
			}
		}
		if !slices.ContainsFunc(combos, func(c map[string]string) bool { return excluded(c, []map[string]string{rule}) }) {
			return nil, fmt.Errorf("exclude %v matches no combination of the group's values: a misspelt value?", rule)
		}
	}
	var kept []map[string]string
	for _, c := range combos {
		if !excluded(c, g.Exclude) {
			kept = append(kept, c)
		}
	}
	for _, inc := range g.Include {
		if len(inc) == 0 {
			return nil, fmt.Errorf("an empty include entry adds a cell with nothing chosen; name its values, e.g. {runc: rc92}")
		}
		for k := range inc {
			if _, ok := d[k]; !ok {
				if _, err := g.withDim(k); err != nil {
					return nil, fmt.Errorf("include names %q, which is no component, parameter, provider or kernel", k)
				}
			}
		}
		kept = append(kept, copyMap(inc))
	}
	canary, err := g.canary()
	if err != nil {
		return nil, err
	}
	var cells []Cell
	for _, c := range kept {
		cell := g.cell(c)
		cell.Canary = canary
		cells = append(cells, cell)
	}
	return cells, nil
}

// canary says whether the group's cells are canaries: whether a patch of
// theirs reverts the bug's own fix, as its header says. Such a cell
// reproduces at a version past the fix on purpose, so the night must
// count its RELAPSE as working (relapse results --canary-ok), never as a
// regression.
func (g Group) canary() (bool, error) {
	s, err := scenario.Lookup(g.Scenario)
	if err != nil {
		return false, err
	}
	fix := s.Bug().Fix
	reverts := ""
	for _, comp := range sortedKeys(flatten(g.Patches)) {
		for _, path := range g.Patches[comp] {
			p, err := versions.LoadPatch(path)
			if err != nil {
				return false, fmt.Errorf("%s patch %s: %w (paths are relative to the directory relapse runs in)", comp, path, err)
			}
			if fix != "" && p.RevertsFix == fix {
				reverts = "patch " + path
			}
		}
	}
	if reverts == "" {
		reverts = g.gateOff()
	}
	switch {
	case g.Canary == nil:
	case *g.Canary && reverts == "":
		return false, fmt.Errorf("canary: true, but no patch of the group reverts %s, the bug's fix (a canary is a cell whose patch has the header \"# Reverts-Fix: %s\")", fix, fix)
	case !*g.Canary && reverts != "":
		return false, fmt.Errorf("canary: false, but %s reverts %s, the bug's fix: such a cell relapses on purpose and is a canary (leave canary out)", reverts, fix)
	}
	return reverts != "", nil
}

// gateOff is the parameter setting with which every cell of the group
// turns its kit bug's fix gate off ("feature-gates=ExecProbeTimeout=false";
// "" when not): a fix that shipped behind a gate is reverted by turning
// the gate off, so such cells are canaries too.
func (g Group) gateOff() string {
	b, ok := kit.Lookup(g.Scenario)
	values := g.Params[kit.FeatureGatesParam]
	if !ok || len(values) == 0 {
		return ""
	}
	for _, v := range values {
		if !b.TurnsFixOff(v) {
			return ""
		}
	}
	return kit.FeatureGatesParam + "=" + strings.Join(values, "|")
}

// withDim says whether name could be a dimension of the group's scenario.
func (g Group) withDim(name string) (bool, error) {
	s, err := scenario.Lookup(g.Scenario)
	if err != nil {
		return false, err
	}
	if nodeDims[name] || scenario.Builder(s, name) != nil {
		return true, nil
	}
	for _, p := range s.Params() {
		if p.Name == name {
			return true, nil
		}
	}
	return false, fmt.Errorf("unknown dimension %q", name)
}

func excluded(c map[string]string, rules []map[string]string) bool {
	for _, r := range rules {
		match := len(r) > 0
		for k, v := range r {
			if c[k] != v {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

// cell turns one combination into a cell with its ID.
func (g Group) cell(combo map[string]string) Cell {
	s, _ := scenario.Lookup(g.Scenario)
	c := Cell{Group: g.Name, Scenario: g.Scenario, Speed: g.Speed, Provider: "local", Repeat: g.Repeat,
		Versions: map[string]string{}, Params: map[string]string{}, Patches: g.Patches}
	if c.Speed == "" {
		c.Speed = "fast"
	}
	components := map[string]bool{}
	for _, b := range s.Components() {
		components[b.Target().Name] = true
	}
	for k, v := range combo {
		switch {
		case k == "provider":
			c.Provider = v
		case k == "kernel":
			c.Kernel = v
		case k == "systemd":
			c.Systemd = v
		case components[k]:
			c.Versions[k] = v
		default:
			c.Params[k] = v
		}
	}
	if c.Versions["kubernetes"] != "" || components["kubernetes"] {
		c.Deps = append(c.Deps, "k8s")
	}
	if c.OwnVM() {
		c.Deps = append(c.Deps, "vm")
	}
	// An engine inside a VM node comes with the node's root filesystem.
	switch engine := c.Params["engine"]; {
	case c.OwnVM():
	case engine == "docker", engine == "containerd":
		c.Deps = append(c.Deps, "engines")
	case engine == "podman":
		c.Deps = append(c.Deps, "podman")
	}
	parts := []string{g.Scenario}
	if g.Name != "" {
		parts = []string{g.Name, g.Scenario}
	}
	for _, k := range sortedKeys(combo) {
		parts = append(parts, k+"-"+combo[k])
	}
	for _, comp := range sortedKeys(flatten(g.Patches)) {
		for _, p := range g.Patches[comp] {
			parts = append(parts, "patch-"+strings.TrimSuffix(lastPath(p), ".patch"))
		}
	}
	c.ID = unsafeID.ReplaceAllString(strings.Join(parts, "."), "_")
	return c
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func flatten(m map[string][]string) map[string]string {
	out := map[string]string{}
	for k := range m {
		out[k] = ""
	}
	return out
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func lastPath(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// ParseShard reads --shard: "k/n" with 1 <= k <= n, decimal, nothing
// before or after.
func ParseShard(s string) (k, n int, err error) {
	bad := fmt.Errorf("--shard %q: want k/n with 1 <= k <= n, e.g. 2/3 (shard 2 of 3)", s)
	ks, ns, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, bad
	}
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	// Atoi takes a sign; a shard is written as plain digits.
	if kerr != nil || nerr != nil || k < 1 || k > n || strconv.Itoa(k) != ks || strconv.Itoa(n) != ns {
		return 0, 0, bad
	}
	return k, n, nil
}

// Select keeps the cells a run asked for: one cell by ID, a speed, and a
// shard i of n (cells sorted by ID, every n-th).
func Select(cells []Cell, id, speed string, shard, shards int, canaries bool) ([]Cell, error) {
	var kept []Cell
	for _, c := range cells {
		if id != "" && c.ID != id {
			continue
		}
		if speed != "" && c.Speed != speed {
			continue
		}
		if !canaries && c.Canary {
			continue
		}
		kept = append(kept, c)
	}
	var out []Cell
	for i, c := range kept {
		if shards <= 1 || i%shards == shard-1 {
			out = append(out, c)
		}
	}
	if id != "" && len(out) == 0 {
		var ids []string
		for _, c := range cells {
			ids = append(ids, c.ID)
		}
		return nil, fmt.Errorf("no cell %q: the cells are\n  %s", id, strings.Join(ids, "\n  "))
	}
	return out, nil
}
