package runcbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/report"
)

func TestRunc3952Classify(t *testing.T) {
	control := facts("mode", "1777", "fstype", "tmpfs")
	checkClassify(t, runc3952, []classifyCase{
		{"1.1.8: the sticky bit lost", control, facts("mode", "777", "fstype", "tmpfs"), report.Reproduced, "is 0777"},
		{"1.1.9: the mode kept", control, facts("mode", "1777", "fstype", "tmpfs"), report.NotReproduced, "kept the directory's mode"},
		{"the control's mode= did not hold", facts("mode", "755", "fstype", "tmpfs"), facts("mode", "777", "fstype", "tmpfs"), report.Inconclusive, "the probe does not see the mount"},
		{"the stat saw the image's directory, not the tmpfs", control, facts("mode", "777", "fstype", "ext2/ext3"), report.Inconclusive, "not a tmpfs"},
		{"some other mode", control, facts("mode", "755", "fstype", "tmpfs"), report.Inconclusive, "neither the image's 1777"},
		{"the trigger did not start", control, refused(`time="x" level=error msg="runc run failed: no space left"`), report.Inconclusive, "runc run failed: no space left"},
		{"the control did not start", refused("boom"), facts("mode", "777", "fstype", "tmpfs"), report.Inconclusive, "the control"},
	})
}
