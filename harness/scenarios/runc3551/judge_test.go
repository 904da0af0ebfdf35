package runc3551

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/report"
)

func TestJudge(t *testing.T) {
	ok := exec{ok: true, output: `{"ok":true,"pid":9}`}
	denied := exec{output: "time=... level=error msg=\"exec failed: unable to start container process: open /dev/pts/0: operation not permitted\""}
	cases := []struct {
		name          string
		before, after exec
		want          report.Result
		says          string
	}{
		{"denied after the reload", ok, denied, report.Reproduced, "open /dev/pts/0: operation not permitted"},
		{"works after the reload", ok, ok, report.NotReproduced, "before and after"},
		{"control failed", denied, denied, report.Inconclusive, "before any reload"},
		{"another failure", ok, exec{output: "container does not exist"}, report.Inconclusive, "not on /dev/pts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason, f := judge(c.before, c.after)
			if got != c.want || !strings.Contains(reason, c.says) {
				t.Fatalf("judge = %s %q, want %s saying %q", got, reason, c.want, c.says)
			}
			if (f != nil) != (got == report.Reproduced) || f != nil && f.Kind != KindPtsDenied {
				t.Fatalf("finding %+v with verdict %s", f, got)
			}
		})
	}
}

func TestPrintableDropsTerminalControls(t *testing.T) {
	if got := printable("\x00\x1b[31mERRO\x1b[0m x\r\nnext\tline"); got != "[31mERRO[0m x\nnext\tline" {
		t.Fatalf("printable = %q", got)
	}
}

func TestPtsRule(t *testing.T) {
	if !strings.Contains(ptsRule("DeviceAllow=char-pts rwm\n"), "has char-pts") || !strings.Contains(ptsRule("DeviceAllow=/dev/char/1:3 rwm\n"), "no char-pts") {
		t.Fatal("ptsRule misreads DeviceAllow=")
	}
}
