package matrix

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

var cellID = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// FuzzParse feeds matrix files to the parser: it never panics, and what
// it accepts has cells with unique, sorted, path-safe IDs, each one an
// experiment relapse repro would take, canaries exactly where a patch
// reverts the bug's fix, and the file written back out parses to the
// same cells.
func FuzzParse(f *testing.F) {
	// ci/nightly.yaml's patch paths are relative to the repository root;
	// the fuzz workers run here (a Chdir would lose them their corpus).
	nightly, err := os.ReadFile("../../ci/nightly.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.ReplaceAll(nightly, []byte("fixtures/patches/"), []byte("../../fixtures/patches/")))
	for _, s := range []string{
		"",
		"cells: []\n",
		"name: t\ncells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93, rc94]}\n    repeat: 3\n",
		"cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n    repeat: -5\n",
		"cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n    provider: [../../../tmp/evil]\n",
		"cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n    provider: [qemu]\n    kernel: [\"$(id)\"]\n",
		"cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93, rc94]}\n    provider: [qemu, vagrant]\n    kernel: [\"6.1\"]\n    exclude: [{runc: rc94, provider: vagrant}]\n    include: [{runc: rc92}]\n",
		"cells:\n  - name: c\n    scenario: runc-pipe-hang\n    versions: {runc: [\"1.1.14\"]}\n    patches: {runc: [../../fixtures/patches/runc/revert-2871-v1.1.14.patch]}\n",
		"cells:\n  - scenario: runc-seccomp-errnoret\n    versions: {runc: [rc91]}\n    params: {engine: [runc, podman]}\n    speed: slow\n",
		"cells:\n  - scenario: containerd-metrics-deadlock\n    versions: {containerd: [\"1.6.2\"]}\n    params: {tasks: [\"150\"]}\n",
		"cells:\n  - scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n    patches: {runc: [/dev/zero]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, cells, err := Parse(data)
		if err != nil {
			return
		}
		if len(cells) == 0 {
			t.Fatal("accepted a file without cells")
		}
		seen := map[string]bool{}
		for i, c := range cells {
			if !cellID.MatchString(c.ID) || c.ID == "." || c.ID == ".." || len(c.ID) > 255 {
				t.Fatalf("cell ID %q is no plain directory name", c.ID)
			}
			if seen[c.ID] {
				t.Fatalf("cell %s twice", c.ID)
			}
			seen[c.ID] = true
			if i > 0 && cells[i-1].ID >= c.ID {
				t.Fatalf("cells not sorted: %s before %s", cells[i-1].ID, c.ID)
			}
			if c.Speed != "fast" && c.Speed != "slow" {
				t.Fatalf("cell %s speed %q", c.ID, c.Speed)
			}
			if err := experiment.CheckRepeat(c.Repeat); err != nil {
				t.Fatalf("cell %s: %v", c.ID, err)
			}
			if _, err := experiment.Providers.Lookup(c.Provider); err != nil {
				t.Fatalf("cell %s: %v", c.ID, err)
			}
			if err := experiment.Check(c.options()); err != nil {
				t.Fatalf("cell %s accepted but repro would refuse it: %v", c.ID, err)
			}
			if c.Canary != revertsOwnFix(t, c) {
				t.Fatalf("cell %s: canary %v, but reverting its bug's fix is %v", c.ID, c.Canary, !c.Canary)
			}
		}
		out, err := yaml.Marshal(file)
		if err != nil {
			t.Fatalf("writing the file back: %v", err)
		}
		_, again, err := Parse(out)
		if err != nil {
			t.Fatalf("the file written back does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, cells) {
			t.Fatalf("the file written back gives other cells:\n%s\nfirst:  %v\nsecond: %v", out, ids(cells), ids(again))
		}
	})
}

// revertsOwnFix says whether a patch of the cell takes out its bug's fix.
func revertsOwnFix(t *testing.T, c Cell) bool {
	s, err := scenario.Lookup(c.Scenario)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range c.Patches {
		for _, path := range ps {
			p, err := versions.LoadPatch(path)
			if err != nil {
				t.Fatalf("cell %s accepted with patch %s: %v", c.ID, path, err)
			}
			if p.RevertsFix != "" && p.RevertsFix == s.Bug().Fix {
				return true
			}
		}
	}
	return false
}

// FuzzParseShard: --shard takes exactly k/n in plain decimal with
// 1 <= k <= n, and every shard of n is accepted.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/1", "2/3", "2/3x", "1/2/3", "0/3", "+1/3", "01/3", " 1/3", "1/-3", "9223372036854775807/9223372036854775807", "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, n, err := ParseShard(s)
		if err != nil {
			return
		}
		if k < 1 || k > n || fmt.Sprintf("%d/%d", k, n) != s {
			t.Fatalf("ParseShard(%q) = %d/%d", s, k, n)
		}
		cells := []Cell{{ID: "a"}, {ID: "b"}, {ID: "c"}}
		if got, err := Select(cells, "", "", k, n, true); err != nil || len(got) > len(cells) || slices.ContainsFunc(got, func(c Cell) bool { return c.ID == "" }) {
			t.Fatalf("Select shard %d/%d = %v, %v", k, n, got, err)
		}
	})
}
