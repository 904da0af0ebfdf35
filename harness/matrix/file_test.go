package matrix

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	// The chaos explorer is a scenario ci/nightly.yaml names; cmd/relapse links it.
	_ "github.com/relapse-dev/relapse/harness/explore"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/scenario"
	_ "github.com/relapse-dev/relapse/harness/scenarios"
	"github.com/relapse-dev/relapse/harness/versions"
)

func load(t *testing.T, text string) ([]Cell, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, cells, err := Load(p)
	return cells, err
}

func ids(cells []Cell) string {
	var out []string
	for _, c := range cells {
		out = append(out, c.ID)
	}
	return strings.Join(out, " ")
}

func TestExpandCrossesExcludesAndIncludes(t *testing.T) {
	cells, err := load(t, `
name: t
cells:
  - scenario: runc-pipe-hang
    versions: {runc: [rc93, rc94]}
    provider: [qemu, vagrant]
    kernel: ["6.1"]
    exclude:
      - {runc: rc94, provider: vagrant}
    include:
      - {runc: rc92}
`)
	if err != nil {
		t.Fatal(err)
	}
	want := "runc-pipe-hang.kernel-6.1.provider-qemu.runc-rc93 runc-pipe-hang.kernel-6.1.provider-qemu.runc-rc94 runc-pipe-hang.kernel-6.1.provider-vagrant.runc-rc93 runc-pipe-hang.runc-rc92"
	if got := ids(cells); got != want {
		t.Fatalf("cells:\n got %s\nwant %s", got, want)
	}
	for _, c := range cells {
		if c.Versions["runc"] == "" || c.Speed != "fast" {
			t.Errorf("cell %s: versions %v speed %q", c.ID, c.Versions, c.Speed)
		}
	}
	if !cells[2].OwnVM() || cells[3].OwnVM() {
		t.Errorf("OwnVM: vagrant cell %v, local cell %v", cells[2].OwnVM(), cells[3].OwnVM())
	}
}

func TestLoadRejectsWhatCannotRun(t *testing.T) {
	for name, tc := range map[string]struct{ text, want string }{
		"unknown scenario":  {"cells:\n  - scenario: nope\n", "nope"},
		"unknown component": {"cells:\n  - scenario: runc-pipe-hang\n    versions: {kubernetes: [\"1.30.14\"]}\n", "builds no kubernetes"},
		"unknown parameter": {"cells:\n  - scenario: runc-pipe-hang\n    params: {colour: [red]}\n", `no parameter "colour"`},
		"bad param value":   {"cells:\n  - scenario: runc-pipe-hang\n    params: {engine: [podman-ish]}\n", "engine"},
		"unknown field":     {"cells:\n  - scenario: runc-pipe-hang\n    versionz: {runc: [rc93]}\n", "versionz"},
		"bad speed":         {"cells:\n  - scenario: runc-pipe-hang\n    speed: quick\n", `speed "quick"`},
		"duplicate cell":    {"cells:\n  - scenario: runc-pipe-hang\n  - scenario: runc-pipe-hang\n", "appears twice"},
		"bad include":       {"cells:\n  - scenario: runc-pipe-hang\n    include: [{colour: red}]\n", `"colour"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSelectShardsPartitionTheCells(t *testing.T) {
	var cells []Cell
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		cells = append(cells, Cell{ID: id, Speed: "fast"})
	}
	cells[6].Speed = "slow"
	cells[5].Canary = true
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		got, err := Select(cells, "", "", i, 3, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got {
			seen[c.ID]++
		}
	}
	if len(seen) != len(cells) {
		t.Fatalf("shards cover %v, want all %d cells once", seen, len(cells))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("cell %s in %d shards", id, n)
		}
	}
	fast, _ := Select(cells, "", "fast", 1, 1, false)
	if ids(fast) != "a b c d e" {
		t.Errorf("fast without canaries = %s", ids(fast))
	}
	if _, err := Select(cells, "zz", "", 1, 1, true); err == nil || !strings.Contains(err.Error(), "a\n") {
		t.Errorf("unknown cell: err = %v, want the list of cells", err)
	}
}

// Every bug declared with the kit has cells in the nightly, on both sides
// of its fix, without a line of its own in the file.
func TestNightlyHasEveryKitBug(t *testing.T) {
	t.Chdir("../..")
	_, cells, err := Load("ci/nightly.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range kit.Bugs() {
		seen := map[string]bool{}
		for _, c := range cells {
			if c.Scenario == b.Name() {
				seen[c.Versions[b.Component]] = true
				// With no affected release to build, the revert is the
				// affected side.
				if b.AffectedUnbuildable != "" && slices.Contains(c.Patches[b.Component], b.RevertPath()) {
					seen[b.LastAffected] = true
				}
			}
		}
		if !seen[b.LastAffected] || !seen[b.FirstFixed] {
			t.Errorf("%s: the nightly runs %v of %s, want %s (last affected) and %s (first fixed): keep `kit: all` in ci/nightly.yaml",
				b.Name(), seen, b.Component, b.LastAffected, b.FirstFixed)
		}
	}
}

func TestKitEntryTakesNoOtherField(t *testing.T) {
	if _, err := load(t, "cells:\n  - kit: all\n    speed: slow\n"); err == nil || !strings.Contains(err.Error(), "a kit entry takes no other field") {
		t.Errorf("err = %v", err)
	}
	if _, err := load(t, "cells:\n  - kit: nope\n"); err == nil || !strings.Contains(err.Error(), `kit "nope": want all or the name of a bug`) {
		t.Errorf("err = %v", err)
	}
}

func TestNightlyFileLoads(t *testing.T) {
	t.Chdir("../..") // the file's patch paths are relative to the repository root
	_, cells, err := Load("ci/nightly.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var canary, fast int
	for _, c := range cells {
		if c.Canary {
			canary++
			if !revertsFix(t, c) && !turnsGateOff(c) {
				t.Errorf("canary %s reverts no fix of its bug", c.ID)
			}
		} else if revertsFix(t, c) || turnsGateOff(c) {
			t.Errorf("cell %s reverts its bug's fix but is no canary", c.ID)
		}
		if c.Speed == "fast" {
			fast++
		}
		if strings.Contains(Invocation(c), "--provider local") {
			t.Errorf("invocation of %s names the default provider", c.ID)
		}
	}
	// relapse-check, seed-systemd, and one per kit bug that declares a
	// revert patch and per value of its cell parameters.
	want := 2
	for _, b := range kit.Bugs() {
		if b.Revert != "" {
			n := 1
			for _, values := range b.CellParams {
				n *= len(values)
			}
			want += n
		}
		if b.FixGate != "" {
			want++
		}
	}
	if canary != want || fast < 8 {
		t.Errorf("nightly: %d canaries, %d fast cells", canary, fast)
	}
}

// turnsGateOff says whether the cell turns its kit bug's fix gate off.
func turnsGateOff(c Cell) bool {
	b, ok := kit.Lookup(c.Scenario)
	return ok && b.TurnsFixOff(c.Params[kit.FeatureGatesParam])
}

// revertsFix says whether a patch of the cell reverts its bug's fix.
func revertsFix(t *testing.T, c Cell) bool {
	t.Helper()
	s, err := scenario.Lookup(c.Scenario)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range c.Patches {
		for _, path := range ps {
			p, err := versions.LoadPatch(path)
			if err != nil {
				t.Fatal(err)
			}
			if p.RevertsFix == s.Bug().Fix {
				return true
			}
		}
	}
	return false
}
