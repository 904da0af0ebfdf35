package runckit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Options choose how the runc under test runs.
type Options struct {
	// SystemdCgroup runs runc with --systemd-cgroup (cgroupsPath is then
	// "slice:prefix:name").
	SystemdCgroup bool
	// DebugLog makes runc log at debug level into the run directory; its
	// tail is evidence when a command fails or hangs.
	DebugLog bool
}

// Kit is the runc under test on a run's node.
type Kit struct {
	Env  *scenario.Env
	Runc *engine.Runc
	// Art is the build that runs.
	Art versions.Artifact
	// InitBinary is the static fixture init on this machine.
	InitBinary string
	// Rootfs is a root filesystem on the node holding the init at /init.
	Rootfs string
	// slowest is the longest a container took to start and run here.
	slowest time.Duration
}

// deadline is how long an attempt may take: the scenario's timeout, or ten
// times the slowest container this kit saw start and run (the control, on
// this machine now) when that is longer. A loaded machine's slow start is
// not taken for a stall.
func (k *Kit) deadline(timeout time.Duration) time.Duration {
	return max(timeout, 10*k.slowest)
}

// New copies the runc build onto the node, owns its state root, records
// `runc --version`, and lays out the root filesystem bundles share.
func New(ctx context.Context, env *scenario.Env, o Options) (*Kit, error) {
	art, err := env.Artifact("runc")
	if err != nil {
		return nil, err
	}
	binary := filepath.Join(env.Dir, "bin", "runc")
	if err := env.Node.CopyIn(ctx, art.Path, binary, 0o755); err != nil {
		return nil, fmt.Errorf("copying runc onto %s: %w", env.Node.Name(), err)
	}
	rc := &engine.Runc{Node: env.Node, Binary: binary, Root: filepath.Join(env.Dir, "runc-root"),
		SystemdCgroup: o.SystemdCgroup, Record: env.Step}
	if o.DebugLog {
		rc.DebugLog = filepath.Join(env.Dir, "runc-debug.log")
	}
	if err := rc.OwnRoot(ctx, env.Run); err != nil {
		return nil, err
	}
	if v, err := rc.Version(ctx); err == nil {
		env.Condition("runc --version", v)
	}
	initBin, err := fixture.BuildInit(ctx, env.CacheDir)
	if err != nil {
		return nil, err
	}
	k := &Kit{Env: env, Runc: rc, Art: art, InitBinary: initBin, Rootfs: filepath.Join(env.Dir, "rootfs")}
	if err := fixture.Rootfs(ctx, env.Node, k.Rootfs, initBin); err != nil {
		return nil, err
	}
	return k, nil
}

// Config is an OCI config for the kit's root filesystem.
func (k *Kit) Config(o fixture.ConfigOptions) *specs.Spec {
	if o.Hostname == "" {
		o.Hostname = "relapse"
	}
	return fixture.Config(k.Rootfs, o)
}

// Bundle writes config.json for spec into a bundle directory named name
// on the node and returns the directory.
func (k *Kit) Bundle(ctx context.Context, name string, spec *specs.Spec) (string, error) {
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding OCI config: %w", err)
	}
	dir := filepath.Join(k.Env.Dir, "bundles", name)
	if err := k.Env.Node.WriteFile(ctx, filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		return "", fmt.Errorf("writing bundle %s: %w", name, err)
	}
	return dir, nil
}

// SaveBundle keeps a bundle a maintainer can run with the report: its
// config.json (root filesystem relative, "rootfs") and the init, in
// reportSubdir of the report directory, and lists both as report files.
func (k *Kit) SaveBundle(spec *specs.Spec, reportSubdir, what string) error {
	saved := *spec
	root := *spec.Root
	root.Path = "rootfs"
	saved.Root = &root
	dir := filepath.Join(k.Env.ReportDir, reportSubdir)
	if err := fixture.WriteBundle(dir, &saved); err != nil {
		return err
	}
	if err := fixture.Rootfs(context.Background(), local.New(), filepath.Join(dir, "rootfs"), k.InitBinary); err != nil {
		return err
	}
	k.Env.File(report.File{Name: "config.json", Path: reportSubdir + "/config.json", Description: what})
	k.Env.File(report.File{Name: "init", Path: reportSubdir + "/rootfs/init", Description: "the container's static init program (fixtures/init)"})
	return nil
}

// SaveSeccomp writes a seccomp profile alone into the report directory,
// as `docker run --security-opt seccomp=FILE` takes it.
func (k *Kit) SaveSeccomp(name string, seccomp *specs.LinuxSeccomp, what string) error {
	data, err := json.MarshalIndent(seccomp, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(k.Env.ReportDir, name), data, 0o644); err != nil {
		return err
	}
	k.Env.File(report.File{Name: name, Path: name, Description: what})
	return nil
}

// ContainerID names attempt n's container after the run.
func (k *Kit) ContainerID(n int) string { return fmt.Sprintf("relapse-%s-%d", k.Env.Short(), n) }

// DebugLogEvidence attaches the tail of runc's debug log, if there is one.
func (k *Kit) DebugLogEvidence(ctx context.Context, title string) {
	if k.Runc.DebugLog == "" {
		return
	}
	data, err := k.Env.Node.ReadFile(ctx, k.Runc.DebugLog)
	if err != nil || len(data) == 0 {
		return
	}
	k.Env.Evidence(title, textutil.LastLines(string(data), 40))
}

// ProcessesEvidence snapshots every process of this kit's runc (run,
// init), so a stall nobody classified can still be studied.
func (k *Kit) ProcessesEvidence(ctx context.Context, title string) {
	procs, err := k.Env.Node.Processes(ctx)
	if err != nil {
		return
	}
	var b strings.Builder
	for _, p := range procs {
		if len(p.Cmdline) == 0 || p.Cmdline[0] != k.Runc.Binary {
			continue
		}
		if snap, err := k.Env.Node.InspectProcess(ctx, p.PID); err == nil {
			fmt.Fprintf(&b, "%s\n  %s\n  stack: %s\n", snap.Summary(), p.CommandLine(), strings.Join(snap.Stack, " <- "))
		}
	}
	if b.Len() == 0 {
		b.WriteString("(no runc process of this run was alive)")
	}
	k.Env.Evidence(title, b.String())
}
