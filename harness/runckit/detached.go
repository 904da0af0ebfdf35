package runckit

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Detached is a container started with `runc run --detach` that stays
// up while the scenario works on it (an attacker, a container to exec
// into). The kit's state root owns it: a run's cleanup deletes it even if
// the scenario never does.
type Detached struct {
	kit *Kit
	// ID is the container's id; Output is the file on the node its init
	// writes stdout and stderr to.
	ID, Output string
	// PID is the container's init on the node.
	PID int
}

// RunDetached starts the container of bundle under the id
// relapse-<run>-<name> and returns once runc has started it.
func (k *Kit) RunDetached(ctx context.Context, name, bundle string) (*Detached, error) {
	env := k.Env
	d := &Detached{kit: k, ID: "relapse-" + env.Short() + "-" + name, Output: filepath.Join(env.Dir, name+".out")}
	pidFile := filepath.Join(env.Dir, name+".pid")
	call, err := k.Runc.Begin(ctx, d.Output, "run", "--detach", "--bundle", bundle, "--pid-file", pidFile, d.ID)
	if err == nil {
		err = call.Wait()
		call.Record(err)
	}
	if err != nil {
		out, _ := env.Node.ReadFile(ctx, d.Output)
		return nil, fmt.Errorf("starting container %s: %w (its output: %q)", d.ID, err, strings.TrimSpace(string(out)))
	}
	raw, err := env.Node.ReadFile(ctx, pidFile)
	if err != nil {
		return nil, fmt.Errorf("reading the pid of container %s: %w", d.ID, err)
	}
	if d.PID, err = strconv.Atoi(strings.TrimSpace(string(raw))); err != nil {
		return nil, fmt.Errorf("the pid file of container %s holds %q: %w", d.ID, raw, err)
	}
	return d, nil
}

// Delete force-deletes the container, killing its processes.
func (d *Detached) Delete(ctx context.Context) error { return d.kit.Runc.Delete(ctx, d.ID) }

// lineWait bounds how long a detached container's init may take to print
// a line it was asked for.
const lineWait = 10 * time.Second

// WaitLine waits for a line of the container's output holding want and
// returns it.
func (d *Detached) WaitLine(ctx context.Context, want string) (string, error) {
	deadline := time.Now().Add(lineWait)
	for {
		out, err := d.kit.Env.Node.ReadFile(ctx, d.Output)
		for _, line := range strings.Split(string(out), "\n") {
			if err == nil && strings.Contains(line, want) {
				return line, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("container %s printed no line with %s within %s: %q", d.ID, want, lineWait, out)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends the container's init SIGTERM, waits for its line holding
// want (what it prints on the way out) and deletes the container.
func (d *Detached) Stop(ctx context.Context, want string) (string, error) {
	defer func() { _ = d.Delete(context.WithoutCancel(ctx)) }()
	if err := d.kit.Env.Node.Kill(ctx, d.PID, int(syscall.SIGTERM)); err != nil {
		return "", fmt.Errorf("stopping container %s: %w", d.ID, err)
	}
	return d.WaitLine(ctx, want)
}
