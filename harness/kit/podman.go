package kit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// podmanEngine is the state a run's podman containers share: podman's
// storage (vfs), run root and tmpdir in the run's directory, and a
// cgroup parent the run owns and removes.
type podmanEngine struct {
	dir, cgroup string
}

// podmanStore are podman's flags keeping all its state under dir.
func podmanStore(dir string) []string {
	return []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--tmpdir", filepath.Join(dir, "tmp"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
}

// podmanGlobal are podman's global flags for the runc under test: its
// state under dir, runc's state root the kit's (which the run owns and
// empties on any exit), Debian's conmon.
func podmanGlobal(dir, runc, runcRoot string) []string {
	return append(podmanStore(dir), "--runtime", runc, "--runtime-flag", "root="+runcRoot, "--conmon", "/usr/bin/conmon")
}

// podmanRunArgs are `podman run`'s own: no network, the cgroup parent,
// and low explicit limits, since podman otherwise asks runc for its own
// maximum nofile and nproc, which a root without CAP_SYS_RESOURCE (CI VMs
// like this one) cannot grant.
func podmanRunArgs(cgroup, name string) []string {
	return []string{"run", "--rm", "--network", "none", "--cgroup-parent", "/" + cgroup,
		"--ulimit", "nofile=1024:4096", "--ulimit", "nproc=1024:4096", "--name", name}
}

// podmanScriptLine is the reproducer's `podman run` of a container: from
// the report directory, podman's state in ./podman, the runc first in PATH.
func podmanScriptLine(name, label string, args, opts []string) string {
	argv := append(append(append(podmanGlobal("$PWD/podman", `"$(command -v runc)"`, "$PWD/state"), podmanRunArgs("relapse-podman", "relapse-"+name)...), opts...), "--rootfs", name+"/rootfs", "/init")
	return "podman " + strings.Join(append(argv, args...), " ") + "  # " + label
}

// setupPodman makes the podman state once per run and names podman and
// conmon in the report's stack.
func (r *Run) setupPodman(ctx context.Context) (*podmanEngine, error) {
	if r.podman != nil {
		return r.podman, nil
	}
	env := r.Env
	p := &podmanEngine{dir: filepath.Join(env.Dir, "podman"), cgroup: "relapse-podman-" + env.Short()}
	for _, tool := range []struct{ name, prefix string }{{"podman", "podman version "}, {"conmon", "conmon version "}} {
		out, err := env.Node.Command(tool.name, "--version").Output(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s --version: %w (podman and conmon come from Debian: ci/deps.sh podman)", tool.name, err)
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		env.Stack(tool.name, strings.TrimPrefix(first, tool.prefix))
	}
	if err := sandbox.CgroupParent(ctx, env.Run, p.cgroup); err != nil {
		return nil, err
	}
	// The reproducer keeps podman's state beside the report and removes it.
	r.undo = append(r.undo, "podman "+strings.Join(podmanStore("$PWD/podman"), " ")+" rm --all --force; rm -rf podman")
	r.podman = p
	return p, nil
}

// Podman runs one container like Container, but through podman and conmon
// (Debian's) with the runc under test as podman's runtime: the stack of a
// container manager (CRI-O's is conmon and containers/common too). Its
// process is the fixture init with args in the kit's root filesystem;
// seccomp, when set, is its seccomp profile in podman's (Docker's) format,
// saved with the report as podman-NAME-seccomp.json, else podman applies
// its default. Podman waits for the container; its output is Said when it
// fails.
func (r *Run) Podman(ctx context.Context, name, label string, args []string, seccomp []byte) (Container, error) {
	p, err := r.setupPodman(ctx)
	if err != nil {
		return Container{}, err
	}
	env := r.Env
	var opts, scriptOpts []string
	if seccomp != nil {
		file := "podman-" + name + "-seccomp.json"
		path := filepath.Join(env.Dir, file)
		if err := env.Node.WriteFile(ctx, path, seccomp, 0o644); err != nil {
			return Container{}, err
		}
		if err := env.SaveFile(file, "the seccomp profile podman gave "+name, seccomp); err != nil {
			return Container{}, err
		}
		opts, scriptOpts = []string{"--security-opt", "seccomp=" + path}, []string{"--security-opt", "seccomp=" + file}
	}
	id := fmt.Sprintf("relapse-%s-%s", env.Short(), name)
	argv := append(append(append(podmanGlobal(p.dir, r.Runc.Runc.Binary, r.Runc.Runc.Root), podmanRunArgs(p.cgroup, id)...), opts...), "--rootfs", r.Runc.Rootfs, "/init")
	argv = append(argv, args...)
	if err := fixture.Rootfs(ctx, local.New(), filepath.Join(env.ReportDir, name, "rootfs"), r.Runc.InitBinary); err != nil {
		return Container{}, fmt.Errorf("saving the root filesystem of %s: %w", name, err)
	}
	r.Script(podmanScriptLine(name, label, args, scriptOpts))

	rec := report.Attempt{N: r.attempt(), Label: label, Container: id}
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := env.Node.Command("podman", argv...)
	out, err := cmd.Output(cctx) // a failure's error carries podman's stderr
	env.Step(report.CommandStep("podman run", cmd.String(), began, err))
	rec.Seconds = time.Since(began).Seconds()
	rec.InitOutput = runckit.LastJSONLine(string(out))
	var c Container
	if init, perr := runckit.ParseInitReport(string(out)); err == nil && perr == nil {
		c.Ran, c.Init = true, init
		rec.Outcome = "started and ran"
	} else {
		c.Said = strings.TrimSpace(string(out))
		if err != nil {
			c.Said = strings.TrimSpace(c.Said + "\n" + err.Error())
		}
		c.Failure = "podman run failed: " + textutil.LastLines(c.Said, 1)
		rec.Outcome = c.Failure
	}
	env.Attempt(rec)
	// --rm removes the container; a podman the deadline killed may not have.
	_ = env.Node.Command("podman", append(podmanGlobal(p.dir, r.Runc.Runc.Binary, r.Runc.Runc.Root), "rm", "--force", "--ignore", id)...).Run(context.WithoutCancel(ctx))
	return c, nil
}
