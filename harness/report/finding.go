package report

import (
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
)

// Finding is something a detector saw, with its evidence.
type Finding struct {
	// Repetition is the repetition of the scenario that saw it.
	Repetition int    `json:"repetition,omitempty"`
	Detector   string `json:"detector"`
	// Kind is a stable machine-readable name ("runc-init-pipe-write-deadlock").
	Kind string `json:"kind"`
	// Summary is one sentence a maintainer reads first.
	Summary string `json:"summary"`
	// Reasons lists the checks that led to the classification.
	Reasons []string `json:"reasons"`
	// At is when the detector decided.
	At time.Time `json:"at"`
	// OnsetAt is the detector's best bound on when the condition began.
	OnsetAt time.Time `json:"onset_at"`
	// Samples is how many observations the decision took.
	Samples int `json:"samples"`
	// Processes are snapshots of the processes involved.
	Processes []evidence.ProcessSnapshot `json:"processes"`
}

// Latency is the time from onset to the decision.
func (f Finding) Latency() time.Duration {
	if f.OnsetAt.IsZero() {
		return 0
	}
	return f.At.Sub(f.OnsetAt)
}
