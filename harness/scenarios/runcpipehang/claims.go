package runcpipehang

import (
	"fmt"

	"github.com/relapse-dev/relapse/harness/detect/pipewrite"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// claims says whether evidence gathered elsewhere (the chaos explorer)
// shows this bug: a `runc init` the pipe-deadlock detector's own
// classification finds blocked writing into a full pipe only it can read.
// One snapshot suffices here because the explorer snapshots only after an
// operation outlived its bound: the write has made no progress since.
func claims(o scenario.Observed) (bool, []string) {
	for _, s := range o.Processes {
		if !evidence.IsRuncInit(s.Process) {
			continue
		}
		var holders []evidence.PipeHolder
		if len(s.Syscall.Args) > 0 {
			if fd, ok := s.FD(int(s.Syscall.Args[0])); ok {
				holders = o.PipeHolders[fd.PipeInode]
			}
		}
		if c := pipewrite.Classify(s, holders); c.Blocked {
			return true, append([]string{fmt.Sprintf("pid %d (%s): %s", s.PID, s.Comm, c.Summary())}, c.Reasons...)
		}
	}
	return false, nil
}
