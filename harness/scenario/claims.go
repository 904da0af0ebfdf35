package scenario

import (
	"github.com/relapse-dev/relapse/harness/evidence"
)

// Observed is what the chaos explorer (harness/explore) gathered when one
// of its generic invariants broke: told nothing about a bug, it hands this
// to every registered scenario that can say whether it is theirs.
type Observed struct {
	// Invariant names the rule that broke ("create returns within its
	// bound", "no runc init left after teardown").
	Invariant string
	// Detail says how it broke, in one line.
	Detail string
	// Processes are deep snapshots of the engine's processes at the moment
	// (runc init, shims, runc), each with its syscall, wait channel and fds.
	Processes []evidence.ProcessSnapshot
	// PipeHolders lists, for each pipe a snapshotted process is writing
	// into, every descriptor open on it in any process.
	PipeHolders map[uint64][]evidence.PipeHolder
	// GoroutineDump is the daemon's goroutine dump (containerd's debug
	// socket), empty when there is no daemon or it did not answer.
	GoroutineDump string
}

// Claimer is a scenario whose detectors can recognise its bug in evidence
// gathered by someone else (the explorer). Claims must be pure: it reads o
// and decides, with the reasons it is theirs.
type Claimer interface {
	Claims(o Observed) (bool, []string)
}
