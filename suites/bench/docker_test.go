package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/versions"
)

// benchHost is what an engine benchmark needs, taken like an experiment
// takes it: the host lock, a run with its journal, runc 1.1.14, the
// fixture rootfs, a network namespace and a cgroup parent, all undone by
// the run's cleanups.
type benchHost struct {
	*run.Run
	runc   string
	rootfs string
	ns     *sandbox.Netns
	cgroup string
}

func newBenchHost(b *testing.B, ctx context.Context) (*benchHost, func()) {
	b.Helper()
	lock, err := run.LockHost(run.StateDir())
	if err != nil {
		b.Fatal(err)
	}
	h := &benchHost{Run: &run.Run{ID: "bench-" + strconv.Itoa(os.Getpid()), Node: local.New(), Report: &report.Report{}, Ledger: &run.Ledger{}}}
	cleanup := func() {
		if err := h.RunCleanups(context.WithoutCancel(ctx)); err != nil {
			b.Error(err)
		}
		lock.Unlock()
	}
	must := func(err error) {
		if err != nil {
			cleanup()
			b.Fatal(err)
		}
	}
	h.Journal, err = run.OpenJournal(run.StateDir(), h.ID)
	must(err)
	r, err := versions.Runc.Resolve(ctx, "1.1.14")
	must(err)
	cache, err := versions.CacheDir()
	must(err)
	art, err := versions.RuncRecipe.Build(ctx, r, cache)
	must(err)
	h.runc = art.Path
	// In relapse's run tree: stopping its daemons kills what names a
	// directory only there.
	h.Dir = run.NewDir("rbench")
	must(run.MakeLocalDir(h.Dir))
	h.DeferCleanup("remove "+h.Dir, func(context.Context) error { return run.RemoveDir(h.Dir) })
	initBin, err := fixture.BuildInit(ctx, cache)
	must(err)
	h.rootfs = filepath.Join(h.Dir, "rootfs")
	must(fixture.Rootfs(ctx, h.Node, h.rootfs, initBin))
	sb, err := sandbox.New(ctx, h.Run, "relapse-bench")
	must(err)
	h.ns, h.cgroup = sb.Netns, sb.Cgroup
	return h, cleanup
}

// startBenchDocker starts a relapse dockerd and imports the fixture image.
func startBenchDocker(b *testing.B, ctx context.Context) (*daemons.Docker, string, func()) {
	b.Helper()
	h, cleanup := newBenchHost(b, ctx)
	dk, stop, err := daemons.StartDocker(ctx, h.Node, h.Journal, filepath.Join(h.Dir, "docker"), h.ns,
		daemons.DockerOptions{Runc: h.runc, CgroupParent: "/" + h.cgroup})
	if err != nil {
		cleanup()
		b.Fatal(err)
	}
	h.DeferCleanup("stop dockerd", func(ctx context.Context) error { _ = dk.RemoveAll(ctx); return stop(ctx) })
	const ref = "relapse/init:bench"
	if err := dk.ImportRootfs(ctx, h.rootfs, ref, []string{"/init"}); err != nil {
		cleanup()
		b.Fatal(err)
	}
	return dk, ref, cleanup
}

// startBenchContainerd starts a relapse containerd from Debian's binaries.
func startBenchContainerd(b *testing.B, ctx context.Context) (*daemons.Containerd, *benchHost, func()) {
	b.Helper()
	h, cleanup := newBenchHost(b, ctx)
	c, stop, err := daemons.StartContainerd(ctx, h.Node, h.Journal, filepath.Join(h.Dir, "containerd"), h.ns,
		daemons.ContainerdOptions{BinDir: "/usr/bin", Runc: h.runc})
	if err != nil {
		cleanup()
		b.Fatal(err)
	}
	h.DeferCleanup("stop containerd", func(ctx context.Context) error { _ = c.RemoveAll(ctx); return stop(ctx) })
	return c, h, cleanup
}
