package cve202130465

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/report"
)

const token = "relapse-0123abcd"

func TestTallySortsStarts(t *testing.T) {
	var tl tally
	for _, s := range []start{
		{started: true, read: token},
		{started: true, read: "error: open /shared/view/relapse-marker: no such file or directory"},
		{output: "mounting ... caused: mount through procfd: " + refusal + " -- refusing to operate on /run/x/volumes"},
		{output: "mounting ... caused: readlink /run/x/rootfs/shared/mnt: invalid argument"},
		{started: true, read: "relapse-someone-else"},
	} {
		tl.add(s, token)
	}
	want := tally{n: 5, started: 2, escaped: 1, refused: 1, failed: 1}
	if tl.firstRefusal == "" {
		t.Fatal("the first refusal was not kept")
	}
	tl.firstRefusal = ""
	if tl != want {
		t.Fatalf("tally = %+v, want %+v", tl, want)
	}
}

func TestJudge(t *testing.T) {
	okControl := start{started: true, read: "error: no such file or directory"}
	swapped := attackerReport{Swaps: 1000}
	cases := []struct {
		name    string
		control start
		t       tally
		att     attackerReport
		want    report.Result
		says    string
	}{
		{"an escape", okControl, tally{n: 60, started: 50, escaped: 3, failed: 7}, swapped, report.Reproduced, "3 of 60"},
		{"none, refused by the fixed runc", okControl, tally{n: 60, started: 40, refused: 5, failed: 15}, swapped, report.NotReproduced, "runc refused 5"},
		{"control did not start", start{failure: "exit 1"}, tally{n: 60, escaped: 3}, swapped, report.Inconclusive, "control victim"},
		{"control sees the token", start{started: true, read: token}, tally{n: 60, escaped: 3}, swapped, report.Inconclusive, "without any attacker"},
		{"no exchange", okControl, tally{n: 60, started: 60}, attackerReport{Error: "renameat2: EPERM"}, report.Inconclusive, "no exchange"},
		{"too few starts", okControl, tally{n: 60, started: 20, failed: 40}, swapped, report.Inconclusive, "fewer than half"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason, f := judge(c.control, c.t, c.att, token, "/run/x/planted")
			if got != c.want || !strings.Contains(reason, c.says) {
				t.Fatalf("judge = %s %q, want %s saying %q", got, reason, c.want, c.says)
			}
			if (f != nil) != (got == report.Reproduced) {
				t.Fatalf("finding %v with verdict %s", f, got)
			}
			if f != nil && f.Kind != KindMountEscape {
				t.Fatalf("finding kind %q", f.Kind)
			}
		})
	}
}
