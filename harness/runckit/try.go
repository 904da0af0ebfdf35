package runckit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/report"
)

// Watcher is a detector that decides from what it sees on the node: it
// returns a finding, or ctx's error when the attempt ends first.
type Watcher interface {
	Watch(ctx context.Context) (report.Finding, error)
}

// Try is one container start.
type Try struct {
	// N numbers the attempt in the report; 0 is a control (no trigger).
	N      int
	Bundle string
	// Timeout bounds create, start and the init's run together.
	Timeout time.Duration
	// Detector, when set, is raced against `runc create` and `runc start`:
	// its finding ends the attempt as the bug. It must select only this
	// kit's processes (Runc.IsInitOf).
	Detector Watcher
	// Hold keeps a process the detector found stuck alive this long, so a
	// maintainer can look at it by hand; a cancelled run stops holding.
	Hold time.Duration
	// Label says in the report what the attempt is ("control: no errnoRet rules").
	Label string
}

// Outcome is what one Try saw.
type Outcome struct {
	Record  report.Attempt
	Finding *report.Finding
	// Started is true when the container's init ran and reported.
	Started bool
	Init    InitReport
	// Phase is the runc command that failed or hung ("run"), or "wait"
	// when the container did not exit.
	Phase string
	// Err is that command's error: a *node.RunError with runc's output.
	Err error
	// Unclassified is true when the deadline passed without a finding:
	// a stall nobody explained, never the bug.
	Unclassified bool
	// Failure says why the attempt neither ran nor was classified.
	Failure string
}

// InitReport is the JSON line the fixture init prints.
type InitReport struct {
	OK         bool   `json:"ok"`
	PID        int    `json:"pid"`
	NoNewPrivs bool   `json:"no_new_privs"`
	CapEff     string `json:"cap_eff"`
	PipeSize   int    `json:"pipe_size"`
	Error      string `json:"error,omitempty"`
	// Probes maps a syscall the init probed (probe=NAME) to its errno.
	Probes map[string]int `json:"probes,omitempty"`
	// Reads maps a file the init read (read=PATH) to its first 4 KiB, or
	// to "error: " and why it could not.
	Reads map[string]string `json:"reads,omitempty"`
	// Cwd is the init's getcwd(2), "error: ..." outside its root.
	Cwd string `json:"cwd,omitempty"`
}

// Try creates and starts one container and waits for its init to run,
// under one deadline, racing the detector. The container is deleted
// afterwards whatever happened.
func (k *Kit) Try(ctx context.Context, t Try) *Outcome {
	env := k.Env
	id := k.ContainerID(t.N)
	o := &Outcome{Record: report.Attempt{N: t.N, Container: id, Label: t.Label}}
	began := time.Now()
	defer func() {
		o.Record.Seconds = time.Since(began).Seconds()
		env.Attempt(o.Record)
	}()
	defer func() { _ = k.Runc.Delete(context.WithoutCancel(ctx), id) }()

	t.Timeout = k.deadline(t.Timeout)
	actx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	found := make(chan report.Finding, 1)
	watchErr := make(chan error, 1)
	if t.Detector != nil {
		go func() {
			f, err := t.Detector.Watch(actx)
			if err == nil {
				found <- f
			}
			watchErr <- err
		}()
	} else {
		watchErr <- context.Canceled
	}

	output := k.OutputFile(t.N)
	pidFile := filepath.Join(env.Dir, id+".pid")
	// One foreground `runc run` creates and starts the container, as a
	// container manager's create+start would in a row, and returns when
	// the container's init exited: with noNewPrivileges runc loads the
	// seccomp filter only after the exec.fifo is opened, so the hang and
	// any failure show in this one command, which is raced against the
	// detector. (Create then start costs a process start more per
	// container, and --detach a wait for the init's exit on top: each was
	// a few per cent of a start against plain `runc run`.)
	if !k.phase(actx, ctx, t, o, "run", output, engine.RunArgs(t.Bundle, pidFile, id), found) {
		return o
	}
	cancel()
	if err := <-watchErr; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		o.fail("the detector failed: " + err.Error())
		return o
	}
	k.readInit(ctx, o, output)
	if o.Started {
		k.slowest = max(k.slowest, time.Since(began))
	}
	return o
}

// OutputFile is where attempt n's runc create and the container's init
// write their output on the node.
func (k *Kit) OutputFile(n int) string { return filepath.Join(k.Env.Dir, k.ContainerID(n)+".out") }

func (o *Outcome) fail(why string) {
	o.Record.Outcome, o.Failure = why, why
}

// phase runs one runc command against the detector and the attempt's
// deadline; it returns false when the attempt ends here.
func (k *Kit) phase(actx, ctx context.Context, t Try, o *Outcome, name, output string, args []string, found <-chan report.Finding) bool {
	env := k.Env
	call, err := k.Runc.Begin(actx, output, args...)
	if err != nil {
		o.Phase, o.Err = name, err
		o.fail("runc " + name + " did not start: " + err.Error())
		return false
	}
	done := make(chan error, 1)
	go func() { done <- call.Wait() }()
	select {
	case err := <-done:
		call.Record(err)
		if err == nil {
			return true
		}
		o.Phase, o.Err = name, err
		if actx.Err() != nil && ctx.Err() == nil {
			o.Unclassified = true
			o.fail(fmt.Sprintf("runc %s did not finish within the attempt's %s and no detector classified the stall", name, t.Timeout))
			k.ProcessesEvidence(context.WithoutCancel(ctx), fmt.Sprintf("runc processes of this run after the deadline (attempt %d)", t.N))
		} else {
			o.fail("runc " + name + " failed: " + err.Error())
		}
		k.DebugLogEvidence(context.WithoutCancel(ctx), fmt.Sprintf("runc --debug log after the failed %s (attempt %d)", name, t.N))
		return false
	case f := <-found:
		call.RecordKilled("had not returned when the detector classified the stall; relapse killed it (it would never return)")
		env.Step(report.Step{At: f.At.UTC(), Name: "detected", Detail: f.Summary, Status: "failed"})
		f.Reasons = append(f.Reasons, fmt.Sprintf("`runc %s` (pid %d) has not returned: it waits on the stuck init", name, call.PID()))
		o.Finding, o.Phase = &f, name
		o.Record.Outcome = fmt.Sprintf("hung in runc %s: %s", name, f.Summary)
		env.Logf("detected after %s: %s", f.Latency().Round(time.Millisecond), f.Summary)
		k.captureHang(ctx, call.PID(), name, o.Finding)
		env.Finding(*o.Finding)
		k.hold(ctx, t.Hold, f)
	case <-actx.Done():
		call.RecordKilled(fmt.Sprintf("had not returned at the attempt's %s deadline; relapse killed it", t.Timeout))
		o.Phase, o.Unclassified = name, ctx.Err() == nil
		o.fail(fmt.Sprintf("runc %s did not finish within the attempt's %s and no detector classified the stall", name, t.Timeout))
		if ctx.Err() != nil {
			o.fail("interrupted during runc " + name)
		}
		k.ProcessesEvidence(context.WithoutCancel(ctx), fmt.Sprintf("runc processes of this run after the deadline (attempt %d)", t.N))
		k.DebugLogEvidence(context.WithoutCancel(ctx), fmt.Sprintf("runc --debug log (attempt %d)", t.N))
	}
	_ = call.Kill()
	<-done
	return false
}

// captureHang adds the waiting runc command and runc's own view.
func (k *Kit) captureHang(ctx context.Context, waiterPID int, phase string, f *report.Finding) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if snap, err := k.Env.Node.InspectProcess(ctx, waiterPID); err == nil {
		f.Processes = append(f.Processes, snap)
	}
	if list, err := k.Runc.List(ctx); err == nil {
		k.Env.Evidence("runc list while runc init is stuck", list)
	}
	k.DebugLogEvidence(ctx, "runc --debug log of the stuck runc "+phase)
}

// hold leaves the stuck process in place for d, so a maintainer can look
// at it by hand; a cancelled run stops holding at once.
func (k *Kit) hold(ctx context.Context, d time.Duration, f report.Finding) {
	Hold(ctx, k.Env, d, f)
}

// readInit reads what the container's init printed.
func (k *Kit) readInit(ctx context.Context, o *Outcome, output string) {
	out, err := k.Env.Node.ReadFile(ctx, output)
	if err != nil {
		o.fail("reading the container's output: " + err.Error())
		return
	}
	// runc --debug makes older inits print log lines once create has
	// returned; the init's own report is its JSON line.
	o.Record.InitOutput = LastJSONLine(string(out))
	init, err := ParseInitReport(string(out))
	if err != nil {
		o.Record.InitOutput = strings.TrimSpace(string(out))
		o.fail("the container ran but its init did not report")
		return
	}
	o.Started, o.Init = true, init
	o.Record.Outcome = fmt.Sprintf("started and ran; a pipe made inside the container holds %d bytes", init.PipeSize)
}

// ParseInitReport reads the fixture init's report line from a container's
// output.
func ParseInitReport(output string) (InitReport, error) {
	var r InitReport
	line := LastJSONLine(output)
	if err := json.Unmarshal([]byte(line), &r); err != nil || !r.OK {
		return r, fmt.Errorf("the container's init printed no report: %q", output)
	}
	return r, nil
}

// LastJSONLine is the last line of out that starts a JSON object.
func LastJSONLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "{") {
			return lines[i]
		}
	}
	return ""
}
