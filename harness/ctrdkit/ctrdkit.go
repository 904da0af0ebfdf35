package ctrdkit

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// DefaultRunc is the runc containerd bugs run with unless a bug pins
// another: the runc containerd 1.7.14 and 1.7.15 pin in
// script/setup/runc-version (1.1.12), one build for every containerd bug.
const DefaultRunc = "1.1.12"

func init() {
	kit.RegisterEngine(&kit.Engine{
		Component: "containerd",
		Recipe:    versions.ContainerdRecipe,
		Supports:  []scenario.Support{scenario.ContainerdBuildable, scenario.RuncBuildable},
		Defaults:  map[string]string{"runc": DefaultRunc},
		Start:     start,
		Offers:    []string{NeedCRI},
		Reproducer: "Run as root in the report directory (it holds containerd-config.toml), on the machine that ran it " +
			"(the containerd build and the runc under test are named by their paths).",
	})
}

// Kit is the containerd under test for one run of a kit bug.
type Kit struct {
	*daemons.Containerd
	// Rootfs is the kit's root filesystem (the fixture init at /init),
	// which tasks run on.
	Rootfs string
	// Cgroup is the cgroup parent tasks go under (the run's sandbox).
	Cgroup string
	// Address is the daemon's socket, for ctr lines.
	Address string
	// CRI is the daemon's CRI service, for a bug that Needs it (NeedCRI).
	CRI cri.RuntimeServiceClient
	run *kit.Run
	// ctr and runc are the builds' paths on this machine, for the
	// reproducer (the run's copies go with its directory).
	ctr, runc string
}

// Of is the containerd of a run of a containerd bug (nil for another).
func Of(r *kit.Run) *Kit {
	k, _ := r.Engine().(*Kit)
	return k
}

// start builds nothing (the kit built the version under test): it copies
// the build onto the node, starts the daemon in the run's own network
// namespace and cgroup parent with the kit's runc, records its version and
// config, and writes the daemon's start into the reproducer.
func start(ctx context.Context, r *kit.Run) (any, error) {
	env := r.Env
	art, err := env.Artifact("containerd")
	if err != nil {
		return nil, err
	}
	sb, err := sandbox.New(ctx, env.Run, "")
	if err != nil {
		return nil, err
	}
	binDir, dir := filepath.Join(env.Dir, "containerd-bin"), filepath.Join(env.Dir, "containerd")
	if err := daemons.CopyContainerdIn(ctx, env.Node, art.Path, binDir); err != nil {
		return nil, err
	}
	k := &Kit{Rootfs: r.Runc.Rootfs, Cgroup: sb.Cgroup, run: r}
	o := daemons.ContainerdOptions{BinDir: binDir, Runc: r.Runc.Runc.Binary}
	if n := env.Node; n.Provider() != "local" {
		// A VM node's socket is not reachable from here: the node's
		// agent relays the client's connections to it.
		o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return agent.Dial(ctx, n, nil, network, addr)
		}
	}
	if r.Needs(NeedCRI) {
		o.CRI = criSection(art, r.Runc.Runc.Binary, dir)
	}
	err = env.StartEngine("containerd", dir, func() (engine.Managed, func(context.Context) error, error) {
		c, stop, err := daemons.StartContainerd(ctx, env.Node, env.Journal, dir, sb.Netns, o)
		k.Containerd = c
		return c, stop, err
	})
	if err != nil {
		return nil, err
	}
	k.Address = k.Socket
	if v, err := k.Version(ctx); err == nil {
		env.Stack("containerd (the build under test, as it reports itself)", v)
	}
	env.Condition("containerd config", k.ConfigReport(ctx))
	config, err := env.Node.ReadFile(ctx, filepath.Join(dir, "config.toml"))
	if err != nil {
		return nil, fmt.Errorf("reading the containerd config back: %w", err)
	}
	if err := env.SaveFile("containerd-config.toml", "the config the containerd under test ran with", config); err != nil {
		return nil, err
	}
	// The reproducer starts the same build with the same config (its
	// paths are in the run's directory, made again here) and stops it on
	// exit.
	k.ctr, k.runc = filepath.Join(art.Path, "ctr"), r.Runc.Art.Path
	r.Script(
		fmt.Sprintf("mkdir -p %s rootfs/proc rootfs/dev rootfs/sys rootfs/tmp rootfs/etc && cp %s rootfs/init  # the kit's root filesystem: relapse's init", dir, r.Runc.InitBinary),
		fmt.Sprintf("PATH=%s:$PATH containerd --config containerd-config.toml > containerd.log 2>&1 &  # containerd %s, its shim from the same build first in PATH", art.Path, art.Version),
		"CONTAINERD=$!",
		fmt.Sprintf("timeout 60 sh -c 'until [ -S %s ]; do sleep 0.1; done'", k.Address))
	r.ScriptUndo("kill $CONTAINERD")
	r.ScriptUndo("rm -rf " + dir)
	if r.Needs(NeedCRI) {
		if err := k.startCRI(ctx, r); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Ctr is a reproducer line running ctr of the build under test against
// this daemon, in relapse's namespace.
func (k *Kit) Ctr(args ...string) string {
	return joinArgs(append([]string{k.ctr, "--address", k.Address, "--namespace", daemons.ContainerdNamespace}, args...))
}

// CtrRun is a reproducer line running container id on the kit's root
// filesystem with the runc under test: ctr run with flags, then args.
func (k *Kit) CtrRun(flags []string, id string, args ...string) string {
	line := append(append([]string{"run"}, flags...), "--runc-binary", k.runc, "--rootfs", "$PWD/rootfs", id)
	return k.Ctr(append(line, args...)...)
}

// joinArgs is a reproducer's command line (relapse's arguments need no
// quoting: paths it made and words).
func joinArgs(args []string) string { return strings.Join(args, " ") }

// Task creates and starts a long-running task on the kit's root
// filesystem (the fixture init, sleeping), under the run's cgroup parent,
// with the runc under test; the reproducer runs the same with ctr.
func (k *Kit) Task(ctx context.Context, id string) (containerd.Task, error) {
	c, err := k.NewContainer(ctx, id, k.Rootfs, oci.WithProcessArgs("/init", "sleep=3600"), oci.WithCgroup("/"+k.Cgroup+"/"+id))
	if err != nil {
		return nil, fmt.Errorf("creating container %s: %w", id, err)
	}
	k.run.Script(k.CtrRun([]string{"-d"}, id, "/init", "sleep=3600"))
	task, err := c.NewTask(ctx, cio.NullIO)
	if err != nil {
		return nil, fmt.Errorf("creating task %s: %w", id, err)
	}
	if err := task.Start(ctx); err != nil {
		return task, fmt.Errorf("starting task %s: %w", id, err)
	}
	return task, nil
}

// Shims are the containerd-shim processes of this run's daemon (those
// whose command line names the run's containerd binaries).
func (k *Kit) Shims(ctx context.Context) ([]evidence.Process, error) {
	procs, err := k.Node.Processes(ctx)
	if err != nil {
		return nil, err
	}
	return evidence.Matching(func(p evidence.Process) bool {
		return strings.HasPrefix(p.Comm, "containerd-shim")
	})(evidence.ProcessesUnder(procs, k.BinDir)), nil
}
