//go:build !relapse_lean

package runcpipehang

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/sandbox"
)

func init() { registerEngine("docker", (*hang).startDocker) }

// dockerEngine is the seed's own stack (containerd#5261): `docker run -d
// --security-opt no-new-privileges` through dockerd -> containerd -> shim -> runc.
type dockerEngine struct {
	dk   *daemons.Docker
	ref  string
	opts []string
}

// startDocker starts a relapse dockerd with the runc under test and imports
// the fixture root filesystem as an image.
func (h *hang) startDocker(ctx context.Context, sb *sandbox.Sandbox) (*dockerEngine, error) {
	env, profile := h.env, h.profile
	ns, cgroup := sb.Netns, sb.Cgroup
	dir := filepath.Join(env.Dir, "docker")
	e := &dockerEngine{ref: "relapse/init:" + h.env.Short()}
	err := env.StartEngine("dockerd", dir, func() (engine.Managed, func(context.Context) error, error) {
		dk, stop, err := daemons.StartDocker(ctx, env.Node, env.Journal, dir, ns,
			daemons.DockerOptions{Runc: h.kit.Runc.Binary, CgroupParent: "/" + cgroup})
		e.dk = dk
		return dk, stop, err
	})
	if err != nil {
		return nil, err
	}
	if v, err := e.dk.Client.ServerVersion(ctx); err == nil {
		env.Stack("dockerd", fmt.Sprintf("%s (API %s, %s; Debian docker.io)", v.Version, v.APIVersion, v.GoVersion))
		for _, c := range v.Components {
			if c.Name == "Engine" {
				continue
			}
			version := c.Version
			if commit := c.Details["GitCommit"]; commit != "" {
				version += " (" + commit + ")"
			}
			env.Stack(strings.ToLower(c.Name)+" (managed by dockerd)", version)
		}
	}
	if err := env.Timed("docker import", e.ref, func() error {
		return e.dk.ImportRootfs(ctx, filepath.Join(env.ReportDir, "bundle", "rootfs"), e.ref, []string{"/init"})
	}); err != nil {
		return nil, err
	}
	// dockerd takes the profile's JSON itself, as the docker CLI sends it.
	seccompJSON, err := json.Marshal(profile.Seccomp)
	if err != nil {
		return nil, err
	}
	e.opts = []string{"no-new-privileges", "seccomp=" + string(seccompJSON)}
	return e, nil
}

func (e *dockerEngine) Name() string { return "docker" }
func (e *dockerEngine) Dir() string  { return e.dk.Dir }
func (e *dockerEngine) Churn() string {
	return "docker run -d --security-opt no-new-privileges --security-opt seccomp=<profile>"
}

func (e *dockerEngine) Start(ctx context.Context, name string) error {
	_, err := e.dk.Run(ctx, name, e.ref, e.opts)
	return err
}

// PipeSize reads the init's JSON report from the container's log.
func (e *dockerEngine) PipeSize(ctx context.Context, name string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waitc, errc := e.dk.Client.ContainerWait(ctx, name, container.WaitConditionNotRunning)
	select {
	case <-waitc:
	case err := <-errc:
		return 0, err
	}
	rc, err := e.dk.Client.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true})
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, rc); err != nil {
		return 0, err
	}
	return initPipeSize(stdout.String())
}

func (e *dockerEngine) Probes() []probe {
	return []probe{
		{"docker ps", func(ctx context.Context) error {
			_, err := e.dk.Client.ContainerList(ctx, container.ListOptions{All: true})
			return err
		}},
		{"docker inspect (stuck container)", func(ctx context.Context) error {
			list, err := e.dk.Client.ContainerList(ctx, container.ListOptions{All: true, Limit: 1})
			if err != nil || len(list) == 0 {
				return err
			}
			_, err = e.dk.Client.ContainerInspect(ctx, list[0].ID)
			return err
		}},
	}
}

// initPipeSize parses the fixture init's report line.
func initPipeSize(output string) (int, error) {
	r, err := runckit.ParseInitReport(output)
	return r.PipeSize, err
}
