package runcbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/report"
)

func TestCVE202327561Classify(t *testing.T) {
	control := facts("/proc", "proc", "/"+planted, "ext2/ext3")
	fixed := `time="2026-12-06T10:19:33Z" level=error msg="runc run failed: unable to start container process: error during container init: error mounting \"proc\" to rootfs at \"/proc\": filesystem \"proc\" must be mounted on ordinary directory"`
	checkClassify(t, cve202327561, []classifyCase{
		{"1.1.4: proc mounted on the planted directory", control, facts("/proc", "proc", "/"+planted, "proc", "mountinfo", "71 70 0:41 / /relapse-planted rw - proc proc rw"), report.Reproduced, "mounted proc on /relapse-planted"},
		{"1.1.5: refused", control, refused(fixed), report.NotReproduced, `filesystem "proc" must be mounted on ordinary directory`},
		{"refused for another reason", control, refused(`level=error msg="runc run failed: permission denied"`), report.Inconclusive, "runc run failed: permission denied"},
		{"started but no proc there", control, facts("/proc", "ext2/ext3", "/"+planted, "ext2/ext3"), report.Inconclusive, "not proc"},
		{"the control's /proc is no proc", facts("/proc", "tmpfs", "/"+planted, "ext2/ext3"), refused(fixed), report.Inconclusive, "want proc on /proc only"},
	})
}
