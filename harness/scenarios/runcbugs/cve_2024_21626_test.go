package runcbugs

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

func TestCVE202421626Classify(t *testing.T) {
	control := facts("marker", "not read (error: no such file or directory)")
	checkClassify(t, cve202421626, []classifyCase{
		{"the marker read through fd 7", control, facts("marker", "read", "via", "/proc/self/fd/7", "reached", "5"),
			report.Reproduced, "process.cwd=/proc/self/fd/7 read the marker"},
		{"every fd refused at its mkdir", control, kit.Observation{Facts: map[string]string{"reached": "8", "tries": "/proc/self/fd/3: did not start: mkdir /proc/self/fd/3: not a directory"}},
			report.NotReproduced, "no container started from /proc/self/fd/3..8"},
		{"the breakout check refused", control, kit.Observation{Facts: map[string]string{"reached": "1", "refused": "/proc/self/fd/7"}},
			report.NotReproduced, "runc refused process.cwd=/proc/self/fd/7"},
		{"nothing got to the cwd", control, kit.Observation{Facts: map[string]string{"reached": "0", "tries": "/proc/self/fd/3: did not start: permission denied"}},
			report.Inconclusive, "no trigger container got as far as its working directory"},
		{"the control read it too", facts("marker", "read"), kit.Observation{Facts: map[string]string{"marker": "read"}},
			report.Inconclusive, "the control container read the marker"},
	})
}
