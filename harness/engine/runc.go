package engine

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
)

// Runc runs containers with one runc binary and a private state root.
type Runc struct {
	Node   node.Node
	Binary string
	// Root is runc's --root: where container state lives.
	Root string
	// DebugLog, when set, makes runc log at debug level into this file.
	DebugLog string
	// Record, when set, receives every runc command as a timeline step.
	Record func(report.Step)
	// SystemdCgroup makes runc place containers through systemd's D-Bus
	// API (--systemd-cgroup): cgroupsPath is then "slice:prefix:name".
	SystemdCgroup bool
}

// OwnRoot makes the state root the run's: journaled (a killed run's
// containers are deleted by the next run), and emptied and removed by a
// cleanup, whatever hangs in it.
func (r *Runc) OwnRoot(ctx context.Context, rn *run.Run) error {
	_, err := rn.Own(ctx, "delete containers in "+r.Root, "runc-root", map[string]string{"binary": r.Binary, "root": r.Root}, nil, r.Cleanup)
	return err
}

func (r *Runc) command(args ...string) node.Cmd {
	argv := r.argv(args...)
	return r.Node.Command(argv[0], argv[1:]...)
}

// argv is a runc command line with this runc's global flags.
func (r *Runc) argv(args ...string) []string {
	argv := []string{r.Binary, "--root", r.Root}
	if r.SystemdCgroup {
		argv = append(argv, "--systemd-cgroup")
	}
	if r.DebugLog != "" {
		argv = append(argv, "--debug", "--log", r.DebugLog)
	}
	return append(argv, args...)
}

// RunStdin runs a runc subcommand with its standard input opened from a
// file on the node by the node's shell, and records it. runc then holds
// that file itself as fd 0, as a container manager hands runc a
// container process's stdio (a pipe in between would hide what runc does
// to the file). Its output goes to output.
func (r *Runc) RunStdin(ctx context.Context, stdin, output string, args ...string) error {
	cmd := r.Node.Command("sh", append([]string{"-c", `exec "$@" <"$0"`, stdin}, r.argv(args...)...)...)
	cmd.SetOutputFile(output)
	start := time.Now()
	err := cmd.Run(ctx)
	r.record("runc "+args[0], cmd.String(), start, err)
	return err
}

// run runs a runc subcommand, records it and returns its output.
func (r *Runc) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := r.command(args...)
	start := time.Now()
	out, err := cmd.Output(ctx)
	r.record("runc "+args[0], cmd.String(), start, err)
	return out, err
}

func (r *Runc) record(name, command string, start time.Time, err error) {
	r.recordStep(report.CommandStep(name, command, start, err))
}

func (r *Runc) recordStep(s report.Step) {
	if r.Record != nil {
		r.Record(s)
	}
}

// Version returns `runc --version`.
func (r *Runc) Version(ctx context.Context) (string, error) {
	out, err := r.Node.Command(r.Binary, "--version").Output(ctx)
	return strings.TrimSpace(string(out)), err
}

// Call is a runc command started with Begin.
type Call struct {
	node.Process
	Cmd     node.Cmd
	Name    string
	Started time.Time
	runc    *Runc
}

// Record adds the call to the timeline once it finished.
func (c *Call) Record(err error) { c.runc.record(c.Name, c.Cmd.String(), c.Started, err) }

// RecordKilled adds a call relapse is about to kill to the timeline as
// killed, saying why: it did not fail, it was stopped.
func (c *Call) RecordKilled(why string) {
	c.runc.recordStep(report.Step{At: c.Started.UTC(), Name: c.Name, Command: c.Cmd.String(), Detail: why,
		Seconds: time.Since(c.Started).Seconds(), Status: report.StatusKilled})
}

// Begin starts a runc subcommand and returns without waiting for it. On an
// affected runc `run` may never return, so the caller races it against a
// detector and a deadline. With output set, stdout and stderr go to that
// file on the node: runc hands them to the container's init, which may
// outlive the command.
func (r *Runc) Begin(ctx context.Context, output string, args ...string) (*Call, error) {
	cmd := r.command(args...)
	if output != "" {
		cmd.SetOutputFile(output)
	}
	call := &Call{Cmd: cmd, Name: "runc " + args[0], Started: time.Now(), runc: r}
	p, err := cmd.Start(ctx)
	call.Process = p
	return call, err
}

// RunArgs are foreground `runc run` arguments: create and start in one
// runc process, which returns the container's exit status once its
// process exited.
func RunArgs(bundle, pidFile, id string) []string {
	return []string{"run", "--bundle", bundle, "--pid-file", pidFile, id}
}

// List returns `runc list` as text, for evidence.
func (r *Runc) List(ctx context.Context) (string, error) {
	out, err := r.run(ctx, "list")
	return string(out), err
}

// IDs lists the containers in the state root.
func (r *Runc) IDs(ctx context.Context) ([]string, error) {
	out, err := r.run(ctx, "list", "--quiet")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// Delete force-deletes a container, killing its processes.
func (r *Runc) Delete(ctx context.Context, id string) error {
	_, err := r.run(ctx, "delete", "--force", id)
	return err
}

// Cleanup deletes every container in the root, kills any process still
// using the root (a hung `runc run` holds it) and removes the root.
func (r *Runc) Cleanup(ctx context.Context) error {
	var errs []string
	if ids, err := r.IDs(ctx); err == nil {
		for _, id := range ids {
			if err := r.Delete(ctx, id); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if err := r.killUsers(ctx); err != nil {
		errs = append(errs, err.Error())
	}
	if ids, err := r.IDs(ctx); err == nil && len(ids) > 0 {
		errs = append(errs, fmt.Sprintf("containers still in %s: %v", r.Root, ids))
	}
	if len(errs) == 0 {
		if err := r.Node.Command("rm", "-rf", r.Root).Run(ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleaning runc root %s: %s", r.Root, strings.Join(errs, "; "))
	}
	return nil
}

// killUsers kills runc processes whose command line names this root.
func (r *Runc) killUsers(ctx context.Context) error {
	procs, err := r.Node.Processes(ctx)
	if err != nil {
		return err
	}
	for _, p := range procs {
		if usesRoot(p, r.Root) {
			_ = r.Node.Kill(ctx, p.PID, int(syscall.SIGKILL))
		}
	}
	return nil
}

func usesRoot(p evidence.Process, root string) bool {
	for i, a := range p.Cmdline {
		if a == "--root" && i+1 < len(p.Cmdline) && p.Cmdline[i+1] == root {
			return true
		}
	}
	return false
}

func init() {
	run.RegisterLocalRepairer("runc-root", func(ctx context.Context, e run.Entry) (string, error) {
		// The binary runs as root: it must be the run's copy, as the root must be the run's.
		binary, err := run.RunTarget("run the runc binary", e.Data["binary"])
		if err != nil {
			return "", err
		}
		root, err := run.RunTarget("delete the containers in the runc root", e.Data["root"])
		if err != nil {
			return "", err
		}
		r := &Runc{Node: local.New(), Binary: binary, Root: root}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		ids, _ := r.IDs(ctx)
		if err := r.Cleanup(ctx); err != nil {
			return "", err
		}
		return fmt.Sprintf("deleted %d container(s) %v left by run %s in %s", len(ids), ids, e.RunID, r.Root), nil
	})
}

// Managed is an engine relapse started: it can remove its containers and
// show its log.
type Managed interface {
	RemoveAll(ctx context.Context) error
	LogTail(ctx context.Context, n int) string
}
