package pipewrite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/measure"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// Kind names the finding of a process blocked forever
// writing into a pipe only it can read (containerd#5261, fixed by runc#2871).
const Kind = "pipe-write-deadlock"

// Detector watches candidate processes for a write into a pipe that can
// never complete: the write is larger than the pipe, the pipe is full, the
// only reader is the writer's own process, no other thread of it is
// running or runnable (none is about to read), and nothing moves between
// samples.
//
// Each of those is read from /proc, so the decision is evidence, not a
// timeout: a container that is merely slow to start on a loaded machine
// either is not in such a write, or makes progress, or has another reader.
//
// One sample is not proof, and the detector does not decide on one: the
// fixed runc (runc#2871) also writes more than the pipe holds into a pipe
// only its own process reads, from a second goroutine. That goroutine is
// parked in Go's poller, and every thread of the process can be asleep at
// the instant of a sample while the wake-up is on its way (Go's sysmon
// polls for ready descriptors every 10 ms at most when no thread waits in
// the poller), and /proc is read thread by thread, not atomically. So the
// state must hold, with no byte moved, over several samples spanning a
// window: the floor covers sysmon's period, and the window grows with the
// detector's own sampling rounds, because on a loaded machine a reader
// thread may wait that long to be scheduled, and so does the detector.
//
// While a candidate is being confirmed the detector samples every
// FastInterval, and the onset is bounded by the last sample that saw the
// process not yet blocked, so the reported latency is from the onset, not
// from the process's start.
type Detector struct {
	Node node.Node
	// Select picks the processes to watch from the node's process list
	// (e.g. the `runc init` children of one `runc run`).
	Select func([]evidence.Process) []evidence.Process
	// Selector, used when Select is nil, does the same in a form the
	// node's agent can take: on a remote node the detector then runs
	// there, next to the processes, instead of sampling over ssh.
	Selector *InitSelector
	// Interval between samples while no candidate is blocked; default 10ms.
	Interval time.Duration
	// FastInterval between samples while a candidate is being confirmed;
	// default 2ms.
	FastInterval time.Duration
	// MinStall is the floor of the no-progress window; default 30ms (three
	// of Go sysmon's longest sleeps). The window is five times the 99th
	// percentile of the detector's own sample rounds when that is longer.
	MinStall time.Duration
	// MinSamples is how many samples must agree; default 3.
	MinSamples int
	// rounds measures how long one sampling round takes here: its work
	// plus the scheduler's lateness in waking the detector.
	rounds measure.Latencies
}

// Name identifies the detector in findings.
func (d *Detector) Name() string { return "pipe-deadlock" }

func (d *Detector) interval(confirming bool) time.Duration {
	switch {
	case confirming && d.FastInterval > 0:
		return d.FastInterval
	case confirming:
		return 2 * time.Millisecond
	case d.Interval > 0:
		return d.Interval
	}
	return 10 * time.Millisecond
}

func (d *Detector) minSamples() int {
	if d.MinSamples > 0 {
		return d.MinSamples
	}
	return 3
}

func (d *Detector) floor() time.Duration {
	if d.MinStall > 0 {
		return d.MinStall
	}
	return 30 * time.Millisecond
}

// window is how long a blocked write must show no progress.
func (d *Detector) window() time.Duration {
	return d.rounds.Scaled(d.floor(), 5)
}

// Classification is the classification of one snapshot.
type Classification struct {
	// Blocked is true when the snapshot shows a write that cannot complete
	// on its own: all checks passed.
	Blocked bool
	Reasons []string
	// Failed is the first check that did not pass.
	Failed  string
	FD      int
	Count   uint64
	Pipe    evidence.FD
	Readers []evidence.PipeHolder
}

// Classify decides from one snapshot (and the pipe's holders)
// whether a process is stuck writing into a pipe that only it can read.
func Classify(s evidence.ProcessSnapshot, holders []evidence.PipeHolder) Classification {
	var c Classification
	fail := func(why string) Classification { c.Failed = why; return c }
	if s.State != "S" && s.State != "D" {
		return fail(fmt.Sprintf("state %s is not sleeping", s.State))
	}
	if s.Syscall.Number != 1 || len(s.Syscall.Args) < 3 {
		return fail(fmt.Sprintf("not in write(2) but in %q", s.Syscall.Raw))
	}
	c.FD, c.Count = int(s.Syscall.Args[0]), s.Syscall.Args[2]
	c.Reasons = append(c.Reasons, fmt.Sprintf("in write(2) of %d bytes to fd %d (/proc/%d/syscall)", c.Count, c.FD, s.PID))
	fd, ok := s.FD(c.FD)
	if !ok || fd.PipeInode == 0 {
		return fail(fmt.Sprintf("fd %d is not a pipe", c.FD))
	}
	c.Pipe = fd
	if fd.PipeSize <= 0 {
		return fail("pipe size unreadable")
	}
	c.Reasons = append(c.Reasons, fmt.Sprintf("fd %d is %s, capacity %d bytes (F_GETPIPE_SZ)", c.FD, fd.Target, fd.PipeSize))
	if c.Count <= uint64(fd.PipeSize) {
		return fail(fmt.Sprintf("the write (%d bytes) fits the pipe (%d bytes)", c.Count, fd.PipeSize))
	}
	c.Reasons = append(c.Reasons, fmt.Sprintf("the write is %d bytes larger than the pipe", c.Count-uint64(fd.PipeSize)))
	if fd.PipeQueued < fd.PipeSize {
		return fail(fmt.Sprintf("the pipe is not full (%d of %d bytes queued)", fd.PipeQueued, fd.PipeSize))
	}
	c.Reasons = append(c.Reasons, fmt.Sprintf("the pipe is full: %d bytes queued unread (FIONREAD)", fd.PipeQueued))
	for _, h := range holders {
		if h.Access == "r" || h.Access == "rw" {
			c.Readers = append(c.Readers, h)
		}
	}
	if len(c.Readers) == 0 {
		return fail("no process holds the read end (the write would get EPIPE, not block)")
	}
	for _, r := range c.Readers {
		if r.PID != s.PID {
			return fail(fmt.Sprintf("pid %d (%s) also holds the read end as fd %d and may drain it", r.PID, r.Comm, r.FD))
		}
	}
	fds := make([]string, len(c.Readers))
	for i, r := range c.Readers {
		fds[i] = fmt.Sprint(r.FD)
	}
	c.Reasons = append(c.Reasons, fmt.Sprintf("the only read end is the writer's own fd %s: nobody else can drain the pipe", strings.Join(fds, ",")))
	if strings.Contains(s.Wchan, "pipe") {
		c.Reasons = append(c.Reasons, "kernel wait channel "+s.Wchan)
	}
	c.Blocked = true
	return c
}

// Summary says what the classification found, in one sentence.
func (c Classification) Summary() string {
	return fmt.Sprintf("blocked writing %d bytes into %s %d-byte pipe (%s) whose only read end it holds itself",
		c.Count, textutil.Article(c.Pipe.PipeSize), c.Pipe.PipeSize, c.Pipe.Target)
}

// watched is what the detector remembers of one selected process.
type watched struct {
	// clear is the last sample that saw the process not blocked (or the
	// process's start): the onset lies after it.
	clear time.Time
	// first is the first sample of the current blocked run; zero when the
	// last sample was clear.
	first   time.Time
	samples int
	last    evidence.ProcessSnapshot
}

// Watch samples until a candidate stays blocked without progress over the
// window and MinSamples samples, and returns that finding. It returns ctx's
// error when ctx ends first. Processes that only pass through such a write
// are forgotten.
func (d *Detector) Watch(ctx context.Context) (report.Finding, error) {
	if d.onAgent() {
		return d.watchOnAgent(ctx)
	}
	seen := map[int]*watched{}
	rounds := 0
	last, planned := time.Now(), time.Duration(0)
	confirming := false
	for {
		// While confirming, a round costs its work plus whatever the
		// scheduler added to the planned wait (the wait itself is not the
		// machine being slow); that is what the window scales with.
		if confirming {
			d.rounds.Add(time.Since(last) - planned)
		}
		last = time.Now()
		// While inits live they are sampled every round, and the full
		// scan that finds new ones (and drops the gone) runs every
		// rescanEvery rounds: the scan costs a stat read per process.
		scanned := !confirming && (len(seen) == 0 || rounds%rescanEvery == 0)
		rounds++
		pids, err := d.round(ctx, seen, confirming, scanned)
		if err != nil {
			return report.Finding{}, err
		}
		scan := time.Since(last)
		confirming = false
		for _, pid := range pids {
			w := seen[pid]
			if f, ok := d.sample(ctx, pid, w); ok {
				return f, nil
			}
			confirming = confirming || w.samples > 0
		}
		// The wait is measured from the round's start, so a slow round is
		// not followed by a full interval on top.
		planned = d.interval(confirming)
		if scanned && len(pids) == 0 {
			// A full scan reads every process's stat (~2 ms here). While
			// no init lives, at most a tenth of a core goes to looking
			// for one, so the detector does not slow down the starts it
			// watches; once one lives, it is sampled at full pace.
			planned = max(planned, 9*scan)
		}
		wait := time.NewTimer(time.Until(last.Add(planned)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return report.Finding{}, ctx.Err()
		case <-wait.C:
		}
	}
}

// rescanEvery is how often, in rounds, the process list is read while
// known inits are being sampled.
const rescanEvery = 3

// round picks the processes to sample. While a candidate is being
// confirmed only the candidates are sampled again, and between full scans
// (scan false) every known init is, without listing every process on the
// node, so those rounds cost a few /proc reads; otherwise the node's
// process list is read and the selection refreshed.
func (d *Detector) round(ctx context.Context, seen map[int]*watched, confirming, scan bool) ([]int, error) {
	var pids []int
	if confirming || !scan {
		for pid, w := range seen {
			if w.samples > 0 || !confirming {
				pids = append(pids, pid)
			}
		}
		return pids, nil
	}
	procs, err := d.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: listing processes: %w", d.Name(), err)
	}
	alive := map[int]bool{}
	sel := d.Select
	if sel == nil && d.Selector != nil {
		sel = d.Selector.Select
	}
	for _, p := range sel(procs) {
		alive[p.PID] = true
		if seen[p.PID] == nil {
			seen[p.PID] = &watched{clear: p.Started}
		}
		pids = append(pids, p.PID)
	}
	for pid := range seen {
		if !alive[pid] {
			delete(seen, pid)
		}
	}
	return pids, nil
}

// commLister is a node that can list processes by comm cheaply (the
// local node, which is also the one the agent's detector runs on).
type commLister interface {
	ProcessesWithComm(ctx context.Context, keep func(comm string) bool) ([]evidence.Process, error)
}

// list is the node's process list for one scan: only the processes whose
// comm can be a selected init's, when the selector allows and the node can.
func (d *Detector) list(ctx context.Context) ([]evidence.Process, error) {
	if cl, ok := d.Node.(commLister); ok && d.Select == nil && d.Selector != nil {
		if keep := d.Selector.comm(); keep != nil {
			return cl.ProcessesWithComm(ctx, keep)
		}
	}
	return d.Node.Processes(ctx)
}

// sample inspects one process and returns a finding once it is confirmed.
func (d *Detector) sample(ctx context.Context, pid int, w *watched) (report.Finding, bool) {
	// Most samples see a process doing anything but write(2): one small
	// read says so, and the deep snapshot (status, stack, every fd) is
	// taken only when it is in write(2). A cheap sample leaves the
	// machine's CPU to the containers being started.
	if raw, err := d.Node.ReadFile(ctx, fmt.Sprintf("/proc/%d/syscall", pid)); err == nil && !inWrite(raw) {
		w.clear, w.first, w.samples = time.Now(), time.Time{}, 0
		return report.Finding{}, false
	}
	snap, err := d.Node.InspectProcess(ctx, pid)
	if err != nil {
		w.first, w.samples = time.Time{}, 0
		return report.Finding{}, false
	}
	var holders []evidence.PipeHolder
	if fd, ok := snapWriteFD(snap); ok && fd.PipeInode != 0 {
		holders, _ = d.Node.PipeHolders(ctx, fd.PipeInode)
	}
	c := Classify(snap, holders)
	if !c.Blocked || !snap.OthersAsleep() || (w.samples > 0 && progressed(w.last, snap)) {
		w.clear, w.first, w.samples = snap.Taken, time.Time{}, 0
		return report.Finding{}, false
	}
	if w.samples == 0 {
		w.first = snap.Taken
	}
	w.samples++
	w.last = snap
	stalled := snap.Taken.Sub(w.first)
	window := d.window()
	if stalled < window || w.samples < d.minSamples() {
		return report.Finding{}, false
	}
	reasons := append(c.Reasons,
		fmt.Sprintf("every other thread of pid %d is asleep (%s): none is running or about to read", snap.PID, taskStates(snap)),
		fmt.Sprintf("no progress over %d samples in %s (window %s: five times the p99 of this detector's own confirmation rounds, %s at least): same write, pipe still full, rchar/wchar unchanged (%d/%d)",
			w.samples, stalled.Round(time.Millisecond), window.Round(time.Millisecond), d.floor(), snap.RChar, snap.WChar),
		fmt.Sprintf("onset between %s (last sample not blocked) and %s (first blocked sample)",
			w.clear.UTC().Format("15:04:05.000"), w.first.UTC().Format("15:04:05.000")))
	if snap.NoNewPrivs {
		reasons = append(reasons, "NoNewPrivs is set")
	}
	if !snap.HasCap("CAP_SYS_ADMIN") && !snap.HasCap("CAP_SYS_RESOURCE") {
		reasons = append(reasons, "neither CAP_SYS_ADMIN nor CAP_SYS_RESOURCE is effective: the kernel gives this process unprivileged (shrunk) pipes")
	}
	return report.Finding{
		Detector:  d.Name(),
		Kind:      Kind,
		Summary:   fmt.Sprintf("pid %d (%s) is %s", snap.PID, snap.Comm, c.Summary()),
		Reasons:   reasons,
		At:        snap.Taken,
		OnsetAt:   onsetBound(w.clear, snap.Started),
		Samples:   w.samples,
		Processes: []evidence.ProcessSnapshot{snap},
	}, true
}

// onsetBound is the latest known time before the onset: the last clear
// sample, or the process's start when no sample saw it clear.
func onsetBound(lastClear, started time.Time) time.Time {
	if lastClear.Before(started) {
		return started
	}
	return lastClear
}

// inWrite reads /proc/PID/syscall: "1 ..." is write(2) on x86-64, the
// only call Classify accepts.
func inWrite(raw []byte) bool {
	return evidence.ParseSyscall(strings.TrimSpace(string(raw))).Number == 1
}

func snapWriteFD(s evidence.ProcessSnapshot) (evidence.FD, bool) {
	if s.Syscall.Number != 1 || len(s.Syscall.Args) < 1 {
		return evidence.FD{}, false
	}
	return s.FD(int(s.Syscall.Args[0]))
}

// progressed reports whether the process moved data or changed its call
// between two snapshots.
func progressed(a, b evidence.ProcessSnapshot) bool {
	return a.RChar != b.RChar || a.WChar != b.WChar || a.Syscall.Raw != b.Syscall.Raw
}

// taskStates renders a process's threads as "tid:state" pairs.
func taskStates(s evidence.ProcessSnapshot) string {
	parts := make([]string, len(s.Tasks))
	for i, t := range s.Tasks {
		parts[i] = fmt.Sprintf("%d:%s", t.TID, t.State)
	}
	return strings.Join(parts, " ")
}
