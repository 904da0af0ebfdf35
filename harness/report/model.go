package report

import (
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/versions"
)

// SchemaVersion changes when report.json changes incompatibly.
const SchemaVersion = 1

// Result is the outcome of one experiment.
type Result string

const (
	Reproduced    Result = "REPRODUCED"
	NotReproduced Result = "NOT REPRODUCED"
	// Inconclusive means the experiment could not decide: setup failed, a
	// requirement was missing, or what was seen matches neither outcome.
	Inconclusive Result = "INCONCLUSIVE"
)

// Link is an upstream reference.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Bug describes the upstream bug a scenario reproduces.
type Bug struct {
	ID string `json:"id"`
	// Fix names the upstream change that fixed it ("runc#2871"), when there is one.
	Fix     string `json:"fix,omitempty"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Links   []Link `json:"links"`
	// Component is the component whose version decides ("runc").
	Component string `json:"component"`
	// Affected is a semver constraint on Component's versions.
	Affected string `json:"affected"`
	// Introduced names the first affected release and the change that
	// brought the bug in, when known ("" when the bug is older than any
	// version relapse can run).
	Introduced string `json:"introduced,omitempty"`
	// Fixed names the first fixed release and the fix.
	Fixed string `json:"fixed"`
}

// Verdict is what the experiment concluded and whether that was expected.
type Verdict struct {
	Result Result `json:"result"`
	Reason string `json:"reason"`
	// Component and Version are what the verdict judges: the bug's
	// component at the version that ran, built by relapse or read off the
	// node (systemd). They are set once, where the verdict is made; the
	// report's title, its "under test" line, the run directory's name, the
	// JUnit case and the matrix line all read them.
	Component string `json:"component,omitempty"`
	Version   string `json:"version,omitempty"`
	// Build says how the judged build differs from the release, when it
	// does ("patched: revert-2871-v1.0.0-rc94.patch", "local tree ... at 12644e6").
	Build string `json:"build,omitempty"`
	// Expected is what the bug's affected range predicts for the version run.
	Expected Result `json:"expected"`
	// ExpectedWhy explains Expected ("1.0.0-rc93 is within >= 1.0.0-rc93, < 1.0.0-rc94").
	ExpectedWhy string `json:"expected_why"`
	// Matches is true when Result equals Expected.
	Matches bool `json:"matches"`
	// Missing lists unmet requirements when the result is INCONCLUSIVE for that reason.
	Missing []string `json:"missing,omitempty"`
	// Rate is k reproductions in n counted repetitions, with its interval.
	Rate Rate `json:"rate"`
	// Sampling is what the scenario declared about repeating it.
	Sampling Sampling `json:"sampling"`
	// Cause says what the result rests on: CauseEvidence (REPRODUCED or NOT
	// REPRODUCED from what the detectors saw), CauseUndecided (the evidence
	// proves neither), CauseSetup (relapse or the setup failed),
	// CauseMissing (requirements), CauseInterrupted (stopped before a verdict).
	Cause string `json:"cause"`
}

// What a verdict's result rests on.
const (
	CauseEvidence    = "evidence"
	CauseUndecided   = "undecided"
	CauseSetup       = "setup"
	CauseMissing     = "missing"
	CauseInterrupted = "interrupted"
	// CauseHeld: the run served a tool (a cluster for the matrix's
	// Indexed Job) and had no trigger; its Result is empty.
	CauseHeld = "held"
)

// Step is one entry of the timeline.
type Step struct {
	At      time.Time `json:"at"`
	Name    string    `json:"name"`
	Detail  string    `json:"detail,omitempty"`
	Command string    `json:"command,omitempty"`
	// Seconds is how long the step took, when it is an operation.
	Seconds float64 `json:"seconds,omitempty"`
	// Status is "ok", "failed", "timeout", StatusKilled or "" for a plain event.
	Status string `json:"status,omitempty"`
}

// StepStatus is the status of a step that ended with err.
func StepStatus(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// CommandStep is the timeline entry of a command that began at start and
// has just ended with err.
func CommandStep(name, command string, start time.Time, err error) Step {
	return Step{At: start.UTC(), Name: name, Command: command, Seconds: time.Since(start).Seconds(), Status: StepStatus(err)}
}

// StatusKilled is a step relapse stopped itself (a command that would
// never return): neither a success nor a failure of the command.
const StatusKilled = "killed"

// Change is one modification of the node, with how it was put back.
type Change struct {
	Kind        string    `json:"kind"`
	Target      string    `json:"target"`
	Before      string    `json:"before"`
	Applied     string    `json:"applied"`
	After       string    `json:"after"`
	AppliedAt   time.Time `json:"applied_at"`
	RestoredAt  time.Time `json:"restored_at"`
	Restored    bool      `json:"restored"`
	RestoreNote string    `json:"restore_note,omitempty"`
	// Disposable marks a change made inside a node that is destroyed after
	// the run (PID 1's memory in a VM): it is not put back, it goes away.
	Disposable bool `json:"disposable,omitempty"`
}

// Attempt is one try at triggering the bug.
type Attempt struct {
	// Repetition is the repetition of the scenario the attempt belongs to.
	Repetition int `json:"repetition,omitempty"`
	// N numbers the attempt; 0 is a control run without the trigger.
	N int `json:"n"`
	// Label says what the attempt is when it is not a plain try with the
	// trigger armed ("control: host's own pipe limit, no trigger").
	Label     string  `json:"label,omitempty"`
	Container string  `json:"container"`
	Outcome   string  `json:"outcome"`
	Seconds   float64 `json:"seconds"`
	// InitOutput is what the container's init printed, if it ran.
	InitOutput string `json:"init_output,omitempty"`
}

// Block is a titled piece of raw evidence (command output, a log).
type Block struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// File is an artifact saved next to the report.
type File struct {
	Name string `json:"name"`
	// Path is relative to the report directory.
	Path        string `json:"path"`
	Description string `json:"description"`
}

// Tool identifies a build of relapse.
type Tool struct {
	// Version is the module version, else "commit <hash>".
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// Fact is a named value shown in the report's tables.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Report is everything one experiment recorded.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	RunID         string    `json:"run_id"`
	Scenario      string    `json:"scenario"`
	Bug           Bug       `json:"bug"`
	Verdict       Verdict   `json:"verdict"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	// TimeToVerdict is seconds from start to the verdict, builds included.
	TimeToVerdict float64 `json:"time_to_verdict_seconds"`
	Node          string  `json:"node"`
	Provider      string  `json:"provider"`
	// Variant says what sets this run apart from the scenario's defaults
	// ("engine=docker provider=qemu kernel=6.1.0-50"); "" for the default.
	Variant string `json:"variant,omitempty"`
	// Invocation is how this report was made (a command line, a suite's
	// spec, a matrix cell).
	Invocation string `json:"invocation"`
	// Rerun is the relapse command that runs the same experiment again.
	Rerun string `json:"rerun,omitempty"`
	// Relapse is the relapse that made the report.
	Relapse Tool               `json:"relapse"`
	Host    evidence.HostFacts `json:"host"`
	// NodeSetup says how the node was made when it is not the host itself:
	// accelerator, guest kernel package and hash, root filesystem, boot
	// time, the qemu or vagrant command, and what the machine running
	// relapse looked like before and after.
	NodeSetup  []Fact              `json:"node_setup,omitempty"`
	Components []versions.Artifact `json:"components"`
	// Observed are versions read off the node rather than built (systemd).
	Observed map[string]string `json:"observed_versions,omitempty"`
	// Stack lists what else ran in the experiment with its version: the
	// engines and daemons (dockerd and the containerd it manages, a
	// Debian containerd, etcd), as they reported themselves.
	Stack []Fact `json:"stack,omitempty"`
	// Parameters are the scenario's settings (profile, sysctl value, attempts).
	Parameters []Fact `json:"parameters"`
	// Conditions are facts measured during the run that the verdict depends
	// on (compiled filter size, pipe capacity seen inside the container).
	Conditions []Fact   `json:"conditions"`
	Changes    []Change `json:"changes"`
	// Repetitions are the scenario's independent runs, each with its own
	// result; the verdict combines them.
	Repetitions []Repetition `json:"repetitions,omitempty"`
	// Interrupted says when a signal stopped the run, and whether the
	// verdict had been reached before ("" when it ran to its end).
	Interrupted string    `json:"interrupted,omitempty"`
	Timeline    []Step    `json:"timeline"`
	Attempts    []Attempt `json:"attempts"`
	Findings    []Finding `json:"findings"`
	Evidence    []Block   `json:"evidence"`
	// Reproduce is a shell script a maintainer can paste to reproduce by hand.
	Reproduce string `json:"reproduce"`
	Files     []File `json:"files"`
	// Errors are problems met along the way that did not stop the run.
	Errors []string `json:"errors,omitempty"`
}
