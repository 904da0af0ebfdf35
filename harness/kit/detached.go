package kit

import (
	"context"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// Image is a bug's change to the kit's root filesystem: commands run in a
// private copy of it (their working directory), as an image would ship
// it ({"chmod", "1777", "tmp"}). The reproducer runs the same lines in the
// saved bundle's rootfs.
type Image [][]string

// holdSeconds is how long a detached container's init sleeps: far longer
// than a side takes, and Delete ends it sooner.
const holdSeconds = "600"

// Detached runs a container like Container but leaves it running (`runc
// run --detach`, the fixture init sleeping), for what shows only in a
// running container: what `runc exec` does to it, or what its mounts look
// like from the node (runckit.Detached: Exec, Stat, InRoot). With image
// set the container gets its own root filesystem, the kit's changed by
// image. When runc refuses to start it, the Observation says what runc
// said and the Detached is nil; otherwise the caller deletes it (Delete)
// and the run's cleanup does if it cannot.
func (r *Run) Detached(ctx context.Context, name, label string, image Image, edit func(*specs.Spec)) (*Running, Observation, error) {
	rootfs := ""
	if image != nil {
		var err error
		if rootfs, err = r.Rootfs(ctx, name); err != nil {
			return nil, Observation{}, err
		}
		for _, argv := range image {
			if err := r.Env.Node.Command(argv[0], argv[1:]...).SetDir(rootfs).Run(ctx); err != nil {
				return nil, Observation{}, fmt.Errorf("preparing the root filesystem of %s: %w", name, err)
			}
			r.Script(fmt.Sprintf("(cd %s/rootfs && %s)", name, textutil.ShellQuote(argv...)))
		}
	}
	dir, err := r.bundle(ctx, name, label, []string{"sleep=" + holdSeconds}, func(s *specs.Spec) {
		if rootfs != "" {
			s.Root.Path = rootfs
		}
		if edit != nil {
			edit(s)
		}
	})
	if err != nil {
		return nil, Observation{}, err
	}
	r.Script(fmt.Sprintf("runc run --detach --pid-file %s.pid --bundle %s relapse-%s  # %s", name, name, name, label))
	c, err := r.Runc.RunDetached(ctx, r.attempt(), dir, r.timeout)
	if err != nil {
		return nil, Observation{Failure: "runc did not start it", Said: strings.TrimSpace(err.Error())}, nil
	}
	r.Env.DeferCleanup("delete container "+c.ID, func(ctx context.Context) error { c.Delete(ctx); return nil })
	return &Running{Detached: c, r: r, name: name}, Observation{Ran: true}, nil
}

// attempt numbers the next container as Container does: the control's
// first is attempt 0, the trigger's come after every control attempt.
func (r *Run) attempt() int {
	n := r.n
	if r.trigger {
		n++
	}
	r.n++
	return n
}

// Running is a container a side left running (Run.Detached). What a bug
// does with it through these methods is also what the reproducer does.
type Running struct {
	*runckit.Detached
	r    *Run
	name string
}

// inRoot is path inside the container in the reproducer's words.
func (c *Running) inRoot(path string) string {
	return fmt.Sprintf("/proc/$(cat %s.pid)/root%s", c.name, path)
}

// Stat is stat(1) with format of path inside the container (of its file
// system with fs set), from the node.
func (c *Running) Stat(ctx context.Context, format, path string, fs bool) (string, error) {
	flag := ""
	if fs {
		flag = "-f "
	}
	c.r.Script(fmt.Sprintf("stat %s-c %s %s", flag, textutil.ShellQuote(format), c.inRoot(path)))
	return c.Detached.Stat(ctx, format, path, fs)
}

// Exec runs `runc exec --detach` of args with flags in the container,
// its stdin the file at path stdin inside the container, which runc
// holds itself as fd 0 (runckit.Detached.Exec).
func (c *Running) Exec(ctx context.Context, stdin string, flags []string, args ...string) error {
	c.r.Script(fmt.Sprintf("runc exec --detach %s relapse-%s %s < %s", textutil.ShellQuote(flags...), c.name, textutil.ShellQuote(args...), c.inRoot(stdin)))
	return c.Detached.Exec(ctx, c.InRoot(stdin), flags, args...)
}

// Delete force-deletes the container.
func (c *Running) Delete(ctx context.Context) {
	c.r.Script("runc delete --force relapse-" + c.name)
	c.Detached.Delete(ctx)
}
