//go:build !relapse_lean

package runcpipehang

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"

	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/sandbox"
)

func init() { registerEngine("containerd", (*hang).startContainerd) }

// debianContainerd is where Debian's containerd (1.6.20) lives, driven
// when no containerd version is given; its version is recorded from the
// daemon itself.
const debianContainerd = "/usr/bin"

// containerdEngine drives the runc under test through a relapse containerd
// with its Go client (task create + start), as kubelet's CRI path does.
type containerdEngine struct {
	ctr     *daemons.Containerd
	rootfs  string
	cgroup  string
	profile fixture.Profile
	logs    string
	// note records a condition of the run; runtimeNoted says the first
	// started container's runtime and shim are recorded.
	note         func(name, value string)
	runtimeNoted bool
}

func (h *hang) startContainerd(ctx context.Context, sb *sandbox.Sandbox) (*containerdEngine, error) {
	env, profile := h.env, h.profile
	ns, cgroup := sb.Netns, sb.Cgroup
	dir := filepath.Join(env.Dir, "containerd")
	e := &containerdEngine{rootfs: h.kit.Rootfs, cgroup: cgroup, profile: profile, logs: env.Dir, note: env.Condition}
	binDir, which := debianContainerd, "containerd (Debian's, the daemon driving runc)"
	if built, ok := env.Artifacts["containerd"]; ok {
		binDir, which = filepath.Join(env.Dir, "containerd-bin"), "containerd (built, the daemon driving runc, as it reports itself)"
		if err := daemons.CopyContainerdIn(ctx, env.Node, built.Path, binDir); err != nil {
			return nil, err
		}
	}
	err := env.StartEngine("containerd", dir, func() (engine.Managed, func(context.Context) error, error) {
		c, stop, err := daemons.StartContainerd(ctx, env.Node, env.Journal, dir, ns,
			daemons.ContainerdOptions{BinDir: binDir, Runc: h.kit.Runc.Binary})
		e.ctr = c
		return c, stop, err
	})
	if err != nil {
		return nil, err
	}
	if v, err := e.ctr.Version(ctx); err == nil {
		env.Stack(which, v)
	}
	env.Condition("containerd config", e.ctr.ConfigReport(ctx))
	return e, nil
}

func (e *containerdEngine) Name() string  { return "containerd" }
func (e *containerdEngine) Dir() string   { return e.ctr.Dir }
func (e *containerdEngine) Churn() string { return "containerd task create + start (noNewPrivileges)" }

// withProfile sets the seccomp profile and noNewPrivileges, as kubelet does
// for allowPrivilegeEscalation: false.
func (e *containerdEngine) withProfile(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	s.Process.NoNewPrivileges = true
	s.Linux.Seccomp = e.profile.Seccomp
	return nil
}

func (e *containerdEngine) Start(ctx context.Context, name string) error {
	c, err := e.ctr.NewContainer(ctx, name, e.rootfs, e.withProfile, oci.WithCgroup("/"+e.cgroup+"/"+name))
	if err != nil {
		return err
	}
	if _, err = e.ctr.Start(ctx, c, filepath.Join(e.logs, name+".log")); err != nil {
		return err
	}
	if !e.runtimeNoted {
		e.runtimeNoted = true
		e.note("containerd runtime", e.ctr.RuntimeReport(ctx, c))
	}
	return nil
}

func (e *containerdEngine) PipeSize(ctx context.Context, name string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := e.ctr.Client.LoadContainer(ctx, name)
	if err != nil {
		return 0, err
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return 0, err
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return 0, err
	}
	select {
	case <-exited:
	case <-ctx.Done():
		return 0, fmt.Errorf("container %s did not exit: %w", name, ctx.Err())
	}
	out, err := e.ctr.Node.ReadFile(ctx, filepath.Join(e.logs, name+".log"))
	if err != nil {
		return 0, err
	}
	return initPipeSize(string(out))
}

func (e *containerdEngine) Probes() []probe {
	return []probe{
		{"containerd task list", func(ctx context.Context) error {
			_, err := e.ctr.Client.TaskService().List(ctx, nil)
			return err
		}},
		{"containerd container list", func(ctx context.Context) error {
			_, err := e.ctr.Client.Containers(ctx)
			return err
		}},
	}
}
