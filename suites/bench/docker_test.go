package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/versions"
)

// startBenchDocker starts a relapse dockerd with runc 1.1.14 and imports the
// fixture image, under the host lock and the journal like an experiment.
func startBenchDocker(b *testing.B, ctx context.Context) (*engine.Docker, string, func()) {
	b.Helper()
	n := local.New()
	lock, err := chaos.LockHost(chaos.StateDir())
	if err != nil {
		b.Fatal(err)
	}
	j, err := chaos.OpenJournal(chaos.StateDir(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	var undo []func(context.Context) error
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			if err := undo[i](context.WithoutCancel(ctx)); err != nil {
				b.Error(err)
			}
		}
		lock.Unlock()
	}
	fail := func(err error) {
		cleanup()
		b.Fatal(err)
	}
	r, err := versions.Runc.Resolve(ctx, "1.1.14")
	if err != nil {
		fail(err)
	}
	art, err := versions.RuncRecipe.Build(ctx, r, versions.CacheDir())
	if err != nil {
		fail(err)
	}
	dir, err := os.MkdirTemp("", "rbench")
	if err != nil {
		fail(err)
	}
	undo = append(undo, func(context.Context) error { return os.RemoveAll(dir) })
	initBin, err := fixture.BuildInit(ctx, versions.CacheDir())
	if err != nil {
		fail(err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := fixture.Rootfs(rootfs, initBin); err != nil {
		fail(err)
	}
	ns, deleteNs, err := engine.CreateNetns(ctx, n, j, "relapse-bench")
	if err != nil {
		fail(err)
	}
	undo = append(undo, deleteNs)
	removeCgroup, err := engine.CgroupParent(n, j, "relapse-bench")
	if err != nil {
		fail(err)
	}
	undo = append(undo, removeCgroup)
	dk, stop, err := engine.StartDocker(ctx, n, j, filepath.Join(dir, "docker"), ns,
		engine.DockerOptions{Runc: art.Path, CgroupParent: "/relapse-bench"})
	if err != nil {
		fail(err)
	}
	undo = append(undo, func(ctx context.Context) error { _ = dk.RemoveAll(ctx); return stop(ctx) })
	const ref = "relapse/init:bench"
	if err := dk.ImportRootfs(ctx, rootfs, ref, []string{"/init"}); err != nil {
		fail(err)
	}
	return dk, ref, cleanup
}
