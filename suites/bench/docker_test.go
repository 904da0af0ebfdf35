package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/versions"
)

// benchHost is what an engine benchmark needs, taken like an experiment
// takes it: the host lock, the journal, runc 1.1.14, the fixture rootfs, a
// network namespace and a cgroup parent, all undone by cleanup.
type benchHost struct {
	node    node.Node
	journal *chaos.Journal
	runc    string
	dir     string
	rootfs  string
	ns      *engine.Netns
	cgroup  string
	undo    []func(context.Context) error
}

func newBenchHost(b *testing.B, ctx context.Context) (*benchHost, func()) {
	b.Helper()
	h := &benchHost{node: local.New(), cgroup: "relapse-bench"}
	lock, err := chaos.LockHost(chaos.StateDir())
	if err != nil {
		b.Fatal(err)
	}
	cleanup := func() {
		for i := len(h.undo) - 1; i >= 0; i-- {
			if err := h.undo[i](context.WithoutCancel(ctx)); err != nil {
				b.Error(err)
			}
		}
		lock.Unlock()
	}
	must := func(err error) {
		if err != nil {
			cleanup()
			b.Fatal(err)
		}
	}
	h.journal, err = chaos.OpenJournal(chaos.StateDir(), "bench")
	must(err)
	r, err := versions.Runc.Resolve(ctx, "1.1.14")
	must(err)
	art, err := versions.RuncRecipe.Build(ctx, r, versions.CacheDir())
	must(err)
	h.runc = art.Path
	h.dir, err = os.MkdirTemp("", "rbench")
	must(err)
	h.undo = append(h.undo, func(context.Context) error { return os.RemoveAll(h.dir) })
	initBin, err := fixture.BuildInit(ctx, versions.CacheDir())
	must(err)
	h.rootfs = filepath.Join(h.dir, "rootfs")
	must(fixture.Rootfs(ctx, h.node, h.rootfs, initBin))
	ns, deleteNs, err := engine.CreateNetns(ctx, h.node, h.journal, "relapse-bench")
	must(err)
	h.ns = ns
	h.undo = append(h.undo, deleteNs)
	removeCgroup, err := engine.CgroupParent(h.node, h.journal, h.cgroup)
	must(err)
	h.undo = append(h.undo, removeCgroup)
	return h, cleanup
}

// startBenchDocker starts a relapse dockerd and imports the fixture image.
func startBenchDocker(b *testing.B, ctx context.Context) (*engine.Docker, string, func()) {
	b.Helper()
	h, cleanup := newBenchHost(b, ctx)
	dk, stop, err := engine.StartDocker(ctx, h.node, h.journal, filepath.Join(h.dir, "docker"), h.ns,
		engine.DockerOptions{Runc: h.runc, CgroupParent: "/" + h.cgroup})
	if err != nil {
		cleanup()
		b.Fatal(err)
	}
	h.undo = append(h.undo, func(ctx context.Context) error { _ = dk.RemoveAll(ctx); return stop(ctx) })
	const ref = "relapse/init:bench"
	if err := dk.ImportRootfs(ctx, h.rootfs, ref, []string{"/init"}); err != nil {
		cleanup()
		b.Fatal(err)
	}
	return dk, ref, cleanup
}

// startBenchContainerd starts a relapse containerd from Debian's binaries.
func startBenchContainerd(b *testing.B, ctx context.Context) (*engine.Containerd, *benchHost, func()) {
	b.Helper()
	h, cleanup := newBenchHost(b, ctx)
	c, stop, err := engine.StartContainerd(ctx, h.node, h.journal, filepath.Join(h.dir, "containerd"), h.ns,
		engine.ContainerdOptions{BinDir: "/usr/bin", Runc: h.runc})
	if err != nil {
		cleanup()
		b.Fatal(err)
	}
	h.undo = append(h.undo, func(ctx context.Context) error { _ = c.RemoveAll(ctx); return stop(ctx) })
	return c, h, cleanup
}
