package detect

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/report"
)

// KindExecFifoStall names the finding of a created container whose
// `runc init` waits on exec.fifo while the engine's create call for it
// never returns, so `runc start` never comes (containerd#6772).
const KindExecFifoStall = "exec-fifo-stall"

// ExecFifoStall watches `runc init` processes parked opening exec.fifo.
// Parking there is normal between `runc create` and `runc start`; it is the
// bug when it lasts while the engine's create call for that container is
// still outstanding and no `runc start` exists for it.
type ExecFifoStall struct {
	Node   node.Node
	Select func([]evidence.Process) []evidence.Process
	// Outstanding says since when the create call for a container id has
	// been waiting, or false when it returned (or never began).
	Outstanding func(id string) (time.Time, bool)
	// MinStall is how long the create must be outstanding with the init
	// parked; default 5s (a healthy create returns in well under a second).
	MinStall time.Duration
	// Threshold, when set, replaces MinStall with what the run measured
	// (a multiple of its own create latency): a candidate is only a
	// candidate; the scenario confirms it from other evidence.
	Threshold func() time.Duration
	// Skip names containers already looked at and found not to be the bug.
	Skip     func(container string) bool
	Interval time.Duration
}

// Name identifies the detector in findings.
func (d *ExecFifoStall) Name() string { return "exec-fifo-stall" }

// FifoPark is the classification of one `runc init` snapshot.
type FifoPark struct {
	Parked    bool
	Container string
	Fifo      string
	Reasons   []string
	Failed    string
}

// ClassifyFifoPark decides whether a snapshot shows runc init blocked
// opening its exec.fifo, and for which container.
func ClassifyFifoPark(s evidence.ProcessSnapshot) FifoPark {
	var c FifoPark
	if s.State != "S" && s.State != "D" {
		c.Failed = "state " + s.State + " is not sleeping"
		return c
	}
	for _, fd := range s.FDs {
		if strings.HasSuffix(fd.Target, "/exec.fifo") {
			c.Fifo = fd.Target
		}
	}
	if c.Fifo == "" {
		c.Failed = "holds no exec.fifo"
		return c
	}
	c.Container = filepath.Base(filepath.Dir(c.Fifo))
	c.Reasons = append(c.Reasons, fmt.Sprintf("holds %s (container %s)", c.Fifo, c.Container))
	inOpen := s.Syscall.Number == 257 || s.Syscall.Number == 2 || s.Syscall.Number == 437
	waits := strings.Contains(s.Wchan, "wait_for_partner") || strings.Contains(s.Wchan, "fifo")
	if !inOpen && !waits {
		c.Failed = fmt.Sprintf("not opening the fifo (syscall %q, wchan %s)", s.Syscall.Raw, s.Wchan)
		return c
	}
	c.Reasons = append(c.Reasons, fmt.Sprintf("blocked in %s, wait channel %s: opening exec.fifo for writing waits until `runc start` opens it for reading",
		s.Syscall.Name, s.Wchan))
	c.Parked = true
	return c
}

// Watch returns the first container whose init stays parked while its
// create is outstanding for MinStall and no `runc start` runs for it.
func (d *ExecFifoStall) Watch(ctx context.Context) (report.Finding, error) {
	interval := d.Interval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	minStall := func() time.Duration {
		if d.Threshold != nil {
			return d.Threshold()
		}
		if d.MinStall > 0 {
			return d.MinStall
		}
		return 5 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		procs, err := d.Node.Processes(ctx)
		if err != nil {
			return report.Finding{}, fmt.Errorf("%s: listing processes: %w", d.Name(), err)
		}
		for _, p := range d.Select(procs) {
			snap, err := d.Node.InspectProcess(ctx, p.PID)
			if err != nil {
				continue
			}
			c := ClassifyFifoPark(snap)
			if !c.Parked || (d.Skip != nil && d.Skip(c.Container)) {
				continue
			}
			since, waiting := d.Outstanding(c.Container)
			if !waiting || snap.Taken.Sub(since) < minStall() {
				continue
			}
			if starter := runcStartFor(procs, c.Container); starter != "" {
				continue
			}
			reasons := append(c.Reasons,
				fmt.Sprintf("the engine's create call for %s has not returned for %s", c.Container, snap.Taken.Sub(since).Round(time.Millisecond)),
				fmt.Sprintf("no `runc start %s` process exists: nothing opens the fifo for reading until the create returns", c.Container))
			return report.Finding{Detector: d.Name(), Kind: KindExecFifoStall,
				Summary: fmt.Sprintf("pid %d (%s) of container %s waits on exec.fifo: the create call has not returned, so runc start never ran",
					snap.PID, snap.Comm, c.Container),
				Reasons: reasons, At: snap.Taken, OnsetAt: since, Samples: 1,
				Processes: []evidence.ProcessSnapshot{snap}}, nil
		}
		select {
		case <-ctx.Done():
			return report.Finding{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// runcStartFor returns the command line of a `runc ... start ID`, if any.
func runcStartFor(procs []evidence.Process, id string) string {
	for _, p := range procs {
		n := len(p.Cmdline)
		if n >= 2 && p.Cmdline[n-1] == id && p.Cmdline[n-2] == "start" && strings.HasSuffix(p.Cmdline[0], "runc") {
			return p.CommandLine()
		}
	}
	return ""
}
