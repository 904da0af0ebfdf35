package matrix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePatch writes a unified diff with the given header lines and
// returns its path.
func writePatch(t *testing.T, name, header string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	text := header + "--- a/go.mod\n+++ b/go.mod\n@@ -1 +1 @@\n-module x\n+module y\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every input the matrix file used to take silently is refused, before
// anything runs, with what is wrong and what would be right.
func TestLoadRejectsLooseInput(t *testing.T) {
	fixRevert := writePatch(t, "revert-2871.patch", "# Reverts-Fix: runc#2871\n")
	other := writePatch(t, "other.patch", "# Reverts-Fix: runc#1234\n")
	notDiff := filepath.Join(t.TempDir(), "notes.patch")
	if err := os.WriteFile(notDiff, []byte("just words\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const g0 = "cells:\n  - scenario: runc-pipe-hang\n"
	const g = g0 + "    versions: {runc: [rc93]}\n"
	for name, tc := range map[string]struct{ text, want string }{
		"empty file":            {"", "no cells"},
		"only a comment":        {"# nothing\n", "no cells"},
		"name only":             {"name: x\n", "no cells"},
		"empty cells":           {"cells: []\n", "no cells"},
		"top-level list":        {"- scenario: runc-pipe-hang\n", "cannot unmarshal array"},
		"unknown top field":     {"name: x\ncellz: []\n", `unknown field "cellz"`},
		"duplicate key":         {g + "    speed: fast\n    speed: slow\n", `"speed" already set`},
		"version not semver":    {g0 + "    versions: {runc: [banana]}\n", `unknown runc version "banana"`},
		"version with shell":    {g0 + "    versions: {runc: [\"1.1.14; id\"]}\n", `unknown runc version "1.1.14; id"`},
		"include bad version":   {g + "    include: [{runc: \"1.x\"}]\n", `unknown runc version "1.x"`},
		"include bad param":     {g + "    include: [{engine: dockr}]\n", "want one of"},
		"empty version list":    {g0 + "    versions: {runc: []}\n", "an empty list makes no cells"},
		"empty provider list":   {g + "    provider: []\n", "provider: an empty list"},
		"provider path":         {g + "    provider: [../../../tmp/evil]\n", `unknown node provider "../../../tmp/evil": known node providers are local, qemu, vagrant`},
		"kernel shell":          {g + "    provider: [qemu]\n    kernel: [\"$(id)\"]\n", `kernel "$(id)": want a name, version or path without spaces or shell metacharacters`},
		"kernel backticks":      {g + "    provider: [qemu]\n    kernel: [\"`id`\"]\n", "shell metacharacters"},
		"kernel unknown":        {g + "    provider: [qemu]\n    kernel: [nope]\n", `unknown kernel "nope"`},
		"kernel missing image":  {g + "    provider: [qemu]\n    kernel: [/nonexistent/bzImage]\n", `kernel image "/nonexistent/bzImage" is not a file`},
		"kernel bad source":     {g + "    provider: [qemu]\n    kernel: [\"source:six\"]\n", `"six" is not a Debian version`},
		"kernel on local":       {g + "    kernel: [\"6.1\"]\n", "KERNEL and BOX need PROVIDER=qemu"},
		"systemd not source":    {g + "    provider: [qemu]\n    systemd: [\"252\"]\n", `systemd "252": want source:<Debian version>`},
		"systemd on local":      {"cells:\n  - scenario: systemd-cookie-overrun\n    systemd: [\"source:252.39-1~deb12u2\"]\n", "SYSTEMD needs PROVIDER=qemu"},
		"repeat negative":       {g + "    repeat: -5\n", "repeat -5: want a number of repetitions from 1 to 1000 (or 0 for the scenario's default)"},
		"repeat too many":       {g + "    repeat: 100000000\n", "repeat 100000000: want a number of repetitions from 1 to 1000"},
		"repeat not a number":   {g + "    repeat: lots\n", "cannot unmarshal string"},
		"canary without revert": {g + "    canary: true\n    patches: {runc: [" + other + "]}\n", "canary: true, but no patch of the group reverts runc#2871"},
		"canary false revert":   {g + "    canary: false\n    patches: {runc: [" + fixRevert + "]}\n", "canary: false, but patch " + fixRevert + " reverts runc#2871"},
		"patch missing":         {g + "    patches: {runc: [/nonexistent.patch]}\n", "no such file"},
		"patch not a diff":      {g + "    patches: {runc: [" + notDiff + "]}\n", "is not a unified diff"},
		"exclude unknown key":   {g0 + "    versions: {runc: [rc93]}\n    exclude: [{colour: red}]\n", `exclude names "colour", which is no dimension of this group (it has runc)`},
		"exclude no match":      {g0 + "    versions: {runc: [rc93, rc94]}\n    exclude: [{runc: rc95}]\n", "matches no combination"},
		"exclude empty":         {g0 + "    versions: {runc: [rc93]}\n    exclude: [{}]\n", "empty exclude entry"},
		"include empty":         {g + "    include: [{}]\n", "empty include entry"},
		"name with escape":      {"name: \"night\\e[2J\"\n" + g, "want one line of printable text"},
		"group name newline":    {"cells:\n  - name: \"a\\n::error::x\"\n    scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n", "want one line of printable text"},
		"cell ID too long":      {"cells:\n  - name: " + strings.Repeat("n", 250) + "\n    scenario: runc-pipe-hang\n    versions: {runc: [rc93]}\n", "more than a directory name takes (255)"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// A cell whose patch reverts the bug's own fix is a canary whether the
// file says so or not; another patch does not make one.
func TestFixRevertCellsAreCanaries(t *testing.T) {
	fixRevert := writePatch(t, "revert-2871.patch", "# relapse fix-revert patch\n# Reverts-Fix: runc#2871\n")
	other := writePatch(t, "other.patch", "# Reverts-Fix: linux 46c4c9d1beb7\n")
	v := "    versions: {runc: [\"1.1.14\"]}\n"
	cells, err := load(t, "cells:\n  - name: revert\n    scenario: runc-pipe-hang\n    patches: {runc: ["+fixRevert+"]}\n"+v+
		"  - name: plain\n    scenario: runc-pipe-hang\n    patches: {runc: ["+other+"]}\n"+v+
		"  - name: said\n    scenario: runc-pipe-hang\n    canary: true\n    patches: {runc: ["+fixRevert+"]}\n"+v)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range cells {
		got[c.Group] = c.Canary
	}
	if !got["revert"] || got["plain"] || !got["said"] {
		t.Fatalf("canaries by group = %v, want revert and said only", got)
	}
}

func TestParseShardIsStrict(t *testing.T) {
	for _, s := range []string{"2/3x", "1/2/3", "0/3", "4/3", "+1/3", "1/+3", "01/3", " 1/3", "1/3 ", "", "/", "1/", "/3", "a/b", "-1/3", "1/-3", "1/0", "0/0", "1\n/3"} {
		if k, n, err := ParseShard(s); err == nil || !strings.Contains(err.Error(), "want k/n with 1 <= k <= n") {
			t.Errorf("ParseShard(%q) = %d, %d, %v; want an error", s, k, n, err)
		}
	}
	for s, want := range map[string][2]int{"1/1": {1, 1}, "2/3": {2, 3}, "10/12": {10, 12}} {
		k, n, err := ParseShard(s)
		if err != nil || k != want[0] || n != want[1] {
			t.Errorf("ParseShard(%q) = %d, %d, %v; want %v", s, k, n, err, want)
		}
	}
}
