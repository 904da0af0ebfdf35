package runcbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

func TestRunc3674Classify(t *testing.T) {
	control := facts("before", "0:0 644 regular empty file 0:0", "after", "1000:0 644 regular empty file 0:0")
	null := func(before, after string) kit.Observation {
		return facts("before", before+" 666 character special file 1:3", "after", after+" 666 character special file 1:3", "file", "/proc/1/root/dev/null")
	}
	checkClassify(t, runc3674, []classifyCase{
		{"1.1.4: /dev/null chowned", control, null("0:0", "1000:0"), report.Reproduced, "chowned it: 0:0 -> 1000:0"},
		{"1.1.5: /dev/null skipped", control, null("0:0", "0:0"), report.NotReproduced, "kept its owner 0:0"},
		{"already the exec user's", control, null("1000:0", "1000:0"), report.Inconclusive, "owned by the exec's user before"},
		{"stdin no null device", control, control, report.Inconclusive, "not a null device"},
		{"chowned to someone else", control, null("0:0", "5:0"), report.Inconclusive, "not to the exec's user"},
		{"the exec failed", control, kit.Observation{Failure: "runc exec failed", Said: "exec failed: no such user"}, report.Inconclusive, "no such user"},
		{"the control's exec failed", kit.Observation{Failure: "runc exec failed"}, null("0:0", "1000:0"), report.Inconclusive, "the control"},
	})
}
