package kit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Run is what a bug's Control and Trigger get: the run, the runc under
// test on its node and the bug's fixtures.
type Run struct {
	Env      *scenario.Env
	Runc     *runckit.Kit
	Fixtures fs.FS
	timeout  time.Duration
	// trigger is true while Trigger runs.
	trigger bool
	n       int
	// steps are the reproducer's shell lines, in order.
	steps []string
}

// Armed says whether the trigger is running (false: the control).
func (r *Run) Armed() bool { return r.trigger }

// Container is one container a side ran.
type Container struct {
	// Observation is its outcome: Ran, what runc said, why it failed.
	Observation
	// Init is what the container's init reported when it ran.
	Init    runckit.InitReport
	Outcome *runckit.Outcome
}

// Container runs one container of the kit's root filesystem (its
// process is the fixture init with args), with the OCI config edited by
// edit; name names its bundle, label says in the report what it is. The
// bundle is saved with the report and the reproducer runs it.
func (r *Run) Container(ctx context.Context, name, label string, args []string, edit func(*specs.Spec)) (Container, error) {
	spec := r.Runc.Config(fixture.ConfigOptions{Args: append([]string{"/init"}, args...)})
	if edit != nil {
		edit(spec)
	}
	dir, err := r.Runc.Bundle(ctx, name, spec)
	if err != nil {
		return Container{}, err
	}
	if err := r.Runc.SaveBundle(spec, name, label); err != nil {
		return Container{}, err
	}
	r.Script(fmt.Sprintf("runc run --bundle %s relapse-%s  # %s", name, name, label))
	n := r.n
	if r.trigger {
		n++
	}
	r.n++
	o := r.Runc.Try(ctx, runckit.Try{N: n, Bundle: dir, Timeout: r.timeout, Label: label})
	c := Container{Outcome: o, Init: o.Init, Observation: Observation{Ran: o.Started, Failure: o.Failure}}
	if o.Err != nil {
		c.Said = o.Err.Error()
		if out, err := r.Env.Node.ReadFile(ctx, r.Runc.OutputFile(o.Record.N)); err == nil {
			c.Said = strings.TrimSpace(string(out)) + "\n" + c.Said
		}
	}
	return c, nil
}

// Plant writes a marker file holding a fresh random token into the run's
// own directory (never elsewhere) and removes it when the run ends. It
// returns the marker's path on the node and the token: a container that
// prints the token has read the marker.
func (r *Run) Plant(ctx context.Context, name string) (path, token string, err error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = "relapse-marker-" + hex.EncodeToString(b[:])
	path = filepath.Join(r.Env.Dir, "markers", name)
	if err := r.Env.Node.WriteFile(ctx, path, []byte(token+"\n"), 0o644); err != nil {
		return "", "", fmt.Errorf("planting marker %s: %w", path, err)
	}
	r.Env.DeferCleanup("remove marker "+path, func(ctx context.Context) error {
		return r.Env.Node.Command("rm", "-f", path).Run(ctx)
	})
	r.Env.Condition("marker "+name, path+" (planted by relapse in the run's own directory, removed at the end)")
	r.Script(fmt.Sprintf("echo %s > %s  # the marker", token, path))
	return path, token, nil
}

// Script adds lines to the reproducer, in the order the run did them.
func (r *Run) Script(lines ...string) { r.steps = append(r.steps, lines...) }

// script is the reproducer: the saved bundles, run in the order the run
// ran them, from the report directory.
func (r *Run) script(b *Bug) string {
	var s strings.Builder
	fmt.Fprintf(&s, "#!/bin/sh\n# %s: %s\n# Run as root in the report directory (it holds the bundles); runc is the one under test.\nset -x\n", b.ID, b.Title)
	for _, l := range r.steps {
		s.WriteString(l + "\n")
	}
	return s.String()
}
