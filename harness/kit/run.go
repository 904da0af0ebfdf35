package kit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Run is what a bug's Control and Trigger get: the run, the runc under
// test on its node (a runc bug) or the cluster (a kubelet bug: Cluster,
// cluster.go), and the bug's fixtures.
type Run struct {
	Env      *scenario.Env
	Runc     *runckit.Kit
	Fixtures fs.FS
	// Data is the bug's own state from its Control to its Trigger (a
	// bundle both use, an engine the control started).
	Data any
	// clusterRun holds a kubelet bug's cluster (empty in a lean build,
	// which links no cluster bug).
	clusterRun
	timeout time.Duration
	// trigger is true while Trigger runs.
	trigger bool
	n       int
	cmds    int
	// steps are the reproducer's shell lines, in order; undo what its
	// exit removes.
	steps, undo []string
	// podman is the podman state of a run whose containers run through
	// podman (Podman), made on first use.
	podman *podmanEngine
	// engine is what the bug's engine started (nil for a runc bug).
	engine any
	// control is what the control saw, for the trigger (ControlSaw).
	control Observation
	bug     *Bug
	// intro says where and how the reproducer runs ("" for a runc bug's:
	// the report directory, the runc under test first in PATH; an
	// engine's Reproducer line).
	intro string
}

// Armed says whether the trigger is running (false: the control).
func (r *Run) Armed() bool { return r.trigger }

// ControlSaw is what the control observed, while the trigger runs: a
// trigger scales its waits from what the control measured on this node
// (how long a pod took to start), never from a fixed wall-clock bound.
func (r *Run) ControlSaw() Observation { return r.control }

// Container is one container a side ran.
type Container struct {
	// Observation is its outcome: Ran, what runc said, why it failed.
	Observation
	// Init is what the container's init reported when it ran.
	Init    runckit.InitReport
	Outcome *runckit.Outcome
}

// bundle writes and saves one container's bundle: the fixture init with
// args, the OCI config changed by edit.
func (r *Run) bundle(ctx context.Context, name, label string, args []string, edit func(*specs.Spec)) (string, error) {
	spec := r.Runc.Config(fixture.ConfigOptions{Args: append([]string{"/init"}, args...)})
	if edit != nil {
		edit(spec)
	}
	dir, err := r.Runc.Bundle(ctx, name, spec)
	if err != nil {
		return "", err
	}
	return dir, r.Runc.SaveBundle(spec, name, label)
}

// Container runs one container of the kit's root filesystem (its
// process is the fixture init with args), with the OCI config edited by
// edit; name names its bundle, label says in the report what it is. The
// bundle is saved with the report and the reproducer runs it.
func (r *Run) Container(ctx context.Context, name, label string, args []string, edit func(*specs.Spec)) (Container, error) {
	dir, err := r.bundle(ctx, name, label, args, edit)
	if err != nil {
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
		// The command's error first: runc's own last line ends Said.
		c.Said = o.Err.Error()
		if out, err := r.Env.Node.ReadFile(ctx, r.Runc.OutputFile(o.Record.N)); err == nil {
			c.Said += "\n" + strings.TrimSpace(string(out))
		}
	}
	return c, nil
}

// Command runs a runc subcommand of the runc under test (its state root,
// its debug log) within the run's create-timeout, records it in the
// timeline and returns what it printed, stdout and stderr together. A
// command that fails returns its output too: runc's complaint is in it.
func (r *Run) Command(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	r.cmds++
	out := filepath.Join(r.Env.Dir, fmt.Sprintf("runc-command-%d.out", r.cmds))
	call, err := r.Runc.Runc.Begin(ctx, out, args...)
	if err != nil {
		return "", err
	}
	err = call.Wait()
	call.Record(err)
	data, rerr := r.Env.Node.ReadFile(context.WithoutCancel(ctx), out)
	if rerr != nil && err == nil {
		err = rerr
	}
	return strings.TrimSpace(string(data)), err
}

// Rootfs lays out a root filesystem of the bug's own (the fixture init at
// /init) in the run's directory, for a bug that changes it (a symlink
// where a directory should be); point a config's Root.Path at it.
func (r *Run) Rootfs(ctx context.Context, name string) (string, error) {
	dir := filepath.Join(r.Env.Dir, "rootfs-"+name)
	if err := fixture.Rootfs(ctx, r.Env.Node, dir, r.Runc.InitBinary); err != nil {
		return "", fmt.Errorf("laying out root filesystem %s: %w", name, err)
	}
	return dir, nil
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
	r.undo = append(r.undo, "rm -rf "+filepath.Dir(path))
	r.Script(fmt.Sprintf("mkdir -p %s && echo %s > %s  # the marker", filepath.Dir(path), token, path))
	return path, token, nil
}

// Script adds lines to the reproducer, in the order the run did them.
func (r *Run) Script(lines ...string) { r.steps = append(r.steps, lines...) }

// script is the reproducer: the saved bundles, run in the order the run
// ran them, from the report directory.
func (r *Run) script(b *Bug) string {
	var s strings.Builder
	intro := r.intro
	if e := engineOf(b); intro == "" && e != nil {
		intro = e.Reproducer
	}
	if intro == "" {
		intro = "Run as root in the report directory (it holds the bundles), with the runc under test first in PATH."
	}
	fmt.Fprintf(&s, "#!/bin/sh\n# %s: %s\n%s\n"+
		"# Affected (%s): the trigger shows what the control does not; fixed (%s): it does not.\nset -x\n",
		b.ID, b.Title, commentLines(intro), b.Affected(), b.FirstFixed)
	if len(r.undo) > 0 {
		fmt.Fprintf(&s, "trap '%s' EXIT\n", strings.Join(slices.Compact(slices.Sorted(slices.Values(r.undo))), "; "))
	}
	for _, l := range r.steps {
		s.WriteString(l + "\n")
	}
	return s.String()
}

// commentLines makes text shell comments: "# " before each line that is
// not one already.
func commentLines(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "#") {
			lines[i] = "# " + l
		}
	}
	return strings.Join(lines, "\n")
}
