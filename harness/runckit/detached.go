package runckit

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/poll"
)

// Detached is a container left running after `runc run --detach`: a bug
// that shows in a running container (what `runc exec` does to it, what
// its mounts look like from the host) is observed there. Its process must
// keep running (the fixture init with sleep=SECONDS); Delete ends it, and
// the run's cleanup of the state root does if a scenario cannot.
type Detached struct {
	ID string
	// PID is the container's init on the node.
	PID int
	// Output is the file on the node holding runc's and the init's output.
	Output string
	k      *Kit
	// timeout bounds each runc command on the container.
	timeout time.Duration
	deleted bool
}

// RunDetached starts bundle's container as attempt n with `runc run
// --detach` and returns once runc did, or with runc's error and output.
// runc and each later command on the container get the kit's deadline
// for timeout (longer when this machine was slower).
func (k *Kit) RunDetached(ctx context.Context, n int, bundle string, timeout time.Duration) (*Detached, error) {
	id := k.ContainerID(n)
	d := &Detached{ID: id, Output: k.OutputFile(n), k: k, timeout: k.deadline(timeout)}
	pidFile := filepath.Join(k.Env.Dir, id+".pid")
	// The init inherits runc's stdio. Its stdin is an empty file of the
	// run's, never the host's /dev/null: a runc that chowns stdio it
	// should not then touches only the run's own file. Its
	// output is a file, so waiting for runc does not wait for the init.
	stdin := filepath.Join(k.Env.Dir, id+".stdin")
	if err := k.Env.Node.WriteFile(ctx, stdin, nil, 0o600); err != nil {
		return nil, fmt.Errorf("making the stdin of container %s: %w", id, err)
	}
	began := time.Now()
	if err := d.within(ctx, func(ctx context.Context) error {
		return k.Runc.RunStdin(ctx, stdin, d.Output, "run", "--detach", "--bundle", bundle, "--pid-file", pidFile, id)
	}); err != nil {
		_ = k.Runc.Delete(context.WithoutCancel(ctx), id)
		return nil, d.failed(ctx, "runc run --detach", err)
	}
	k.slowest = max(k.slowest, time.Since(began))
	pid, err := k.Env.Node.ReadFile(ctx, pidFile)
	if err == nil {
		d.PID, err = strconv.Atoi(strings.TrimSpace(string(pid)))
	}
	if err != nil {
		d.Delete(ctx)
		return nil, fmt.Errorf("reading the pid of container %s from %s: %w", id, pidFile, err)
	}
	return d, nil
}

// Exec runs `runc exec --detach` of args in the container with flags
// before them (--user 1000:1000), its standard input opened from stdin, a
// path on the node: runc holds that file itself as fd 0, as a container
// manager hands it a process's stdio.
func (d *Detached) Exec(ctx context.Context, stdin string, flags []string, args ...string) error {
	argv := append(append([]string{"exec", "--detach"}, flags...), d.ID)
	output := strings.TrimSuffix(d.Output, ".out") + ".exec.out"
	err := d.within(ctx, func(ctx context.Context) error {
		return d.k.Runc.RunStdin(ctx, stdin, output, append(argv, args...)...)
	})
	if err != nil {
		out, _ := d.k.Env.Node.ReadFile(ctx, output)
		return fmt.Errorf("runc exec in %s: %w\n%s", d.ID, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// InRoot is path inside the container as the node reaches it: through
// the init's root in /proc, so it is the container's view (its mounts
// included) and never a host path of the same name.
func (d *Detached) InRoot(path string) string {
	return filepath.Join(fmt.Sprintf("/proc/%d/root", d.PID), path)
}

// Stat runs stat(1) with format on path inside the container (InRoot);
// with fs set it reports on the file system holding path (stat -f).
func (d *Detached) Stat(ctx context.Context, format, path string, fs bool) (string, error) {
	args := []string{"-c", format, d.InRoot(path)}
	if fs {
		args = append([]string{"-f"}, args...)
	}
	var out []byte
	err := d.within(ctx, func(ctx context.Context) (err error) {
		out, err = d.k.Env.Node.Command("stat", args...).Output(ctx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("stat of %s in container %s: %w", path, d.ID, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Delete force-deletes the container (its init is killed), once: a
// scenario's own Delete and the run's cleanup may both ask.
func (d *Detached) Delete(ctx context.Context) {
	if d.deleted {
		return
	}
	d.deleted = true
	_ = d.within(context.WithoutCancel(ctx), func(ctx context.Context) error { return d.k.Runc.Delete(ctx, d.ID) })
}

// WaitLine waits, within the container's deadline, for a line of its
// output holding want and returns it.
func (d *Detached) WaitLine(ctx context.Context, want string) (string, error) {
	var out []byte
	var line string
	err := poll.Within(ctx, d.timeout, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		var err error
		if out, err = d.k.Env.Node.ReadFile(ctx, d.Output); err != nil {
			return false, nil // not written yet
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, want) {
				line = l
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("container %s printed no line with %s: %w (its output: %q)", d.ID, want, err, out)
	}
	return line, nil
}

// Stop sends the container's init SIGTERM, waits for its line holding
// want (what it prints on the way out) and deletes the container.
func (d *Detached) Stop(ctx context.Context, want string) (string, error) {
	defer d.Delete(ctx)
	if err := d.k.Env.Node.Kill(ctx, d.PID, int(syscall.SIGTERM)); err != nil {
		return "", fmt.Errorf("stopping container %s: %w", d.ID, err)
	}
	return d.WaitLine(ctx, want)
}

// within runs f under the container's deadline.
func (d *Detached) within(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return f(ctx)
}

// failed is runc's error with what runc and the init printed.
func (d *Detached) failed(ctx context.Context, what string, err error) error {
	out, _ := d.k.Env.Node.ReadFile(context.WithoutCancel(ctx), d.Output)
	return fmt.Errorf("%s %s: %w\n%s", what, d.ID, err, strings.TrimSpace(string(out)))
}
