package runcpipehang

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/engine"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
)

// viaDocker is the seed's own recipe (containerd#5261): with the soft limit
// lowered, `docker run -d --security-opt no-new-privileges` in a loop until
// a start does not return, through dockerd -> containerd -> shim -> runc.
func (r *run) viaDocker(ctx context.Context, profile fixture.Profile, armed bool) (report.Result, string, error) {
	env := r.env
	dir := filepath.Join(env.Dir, "docker")
	ns, deleteNs, err := engine.CreateNetns(ctx, env.Node, env.Journal, "relapse-"+r.short)
	if err != nil {
		return report.Inconclusive, "", err
	}
	env.DeferCleanup("delete network namespace "+ns.Name, deleteNs)
	cgroup := "relapse-" + r.short
	removeCgroup, err := engine.CgroupParent(env.Node, env.Journal, cgroup)
	if err != nil {
		return report.Inconclusive, "", err
	}
	env.DeferCleanup("remove cgroup "+cgroup, removeCgroup)
	var dk *engine.Docker
	err = env.Timed("start dockerd", dir, func() error {
		var stop func(context.Context) error
		dk, stop, err = engine.StartDocker(ctx, env.Node, env.Journal, dir, ns,
			engine.DockerOptions{Runc: r.runc.Binary, CgroupParent: "/" + cgroup})
		if err == nil {
			env.DeferCleanup("stop dockerd and its containerd", func(ctx context.Context) error {
				rmCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				_ = dk.RemoveAll(rmCtx)
				return stop(ctx)
			})
		}
		return err
	})
	if err != nil {
		return report.Inconclusive, "", err
	}
	env.DeferCleanup("save the dockerd log", func(ctx context.Context) error {
		env.Evidence("dockerd log (last lines)", dk.LogTail(ctx, 60))
		return nil
	})
	if v, err := dk.Client.ServerVersion(ctx); err == nil {
		env.Condition("dockerd", fmt.Sprintf("%s (API %s, %s)", v.Version, v.APIVersion, v.GoVersion))
		for _, c := range v.Components {
			env.Condition("engine component "+c.Name, c.Version)
		}
	}
	ref := "relapse/init:" + r.short
	if err := env.Timed("docker import", ref, func() error {
		return dk.ImportRootfs(ctx, filepath.Join(env.ReportDir, "bundle", "rootfs"), ref, []string{"/init"})
	}); err != nil {
		return report.Inconclusive, "", err
	}
	seccompJSON, err := json.Marshal(profile.Seccomp)
	if err != nil {
		return report.Inconclusive, "", err
	}
	opts := []string{"no-new-privileges", "seccomp=" + string(seccompJSON)}

	if env.Params["baseline"] == "true" {
		size, err := r.dockerRunOnce(ctx, dk, r.short+"-base", ref, opts)
		env.Report.Attempts = append(env.Report.Attempts, report.Attempt{N: 0, Container: r.short + "-base",
			Outcome: dockerOutcome(size, err)})
		if err != nil {
			return report.Inconclusive, "the baseline container (no trigger) did not run through docker: " + err.Error(), nil
		}
	}

	if err := (chaos.Sysctl{Key: SoftLimitKey, Value: env.Params["soft-limit"]}).Apply(ctx, env.Node, env.Journal, env.Ledger); err != nil {
		return report.Inconclusive, "", err
	}
	env.Event("trigger armed", fmt.Sprintf("%s=%s", SoftLimitKey, env.Params["soft-limit"]))

	churn := chaos.Churn{Concurrency: 1, Max: r.attempts, StartTimeout: r.timeout,
		Start: func(ctx context.Context, i int) error {
			_, err := dk.Run(ctx, fmt.Sprintf("%s-%d", r.short, i+1), ref, opts)
			return err
		}}
	det := &detect.PipeDeadlock{Node: env.Node, Select: func(procs []evidence.Process) []evidence.Process {
		return detect.Matching(engine.IsRuncInit)(engine.ProcessesUnder(procs, dir))
	}}
	res, finding := env.ChurnWatched(ctx, "docker run churn",
		fmt.Sprintf("up to %d x docker run -d --security-opt no-new-privileges --security-opt seccomp=<%s, %d bytes>", r.attempts, profile.Name, profile.BPFBytes),
		churn, det.Watch)
	if finding != nil {
		r.captureDockerHang(ctx, dk, dir, finding)
		r.holdStuck(ctx, *finding)
	}
	if err := env.Ledger.UndoAll(context.WithoutCancel(ctx)); err != nil {
		env.Report.Errors = append(env.Report.Errors, err.Error())
	}
	env.Event("trigger disarmed", SoftLimitKey+" restored")
	if ctx.Err() != nil {
		return report.Inconclusive, "interrupted: " + context.Cause(ctx).Error(), nil
	}
	switch {
	case finding != nil:
		return report.Reproduced, fmt.Sprintf("docker start %d of %d did not return: %s", res.Started+res.Stuck, r.attempts, finding.Summary), nil
	case res.Stuck > 0:
		return report.Inconclusive, "a docker start did not return but the detector did not classify the stall: " + res.StoppedBy, nil
	case res.Failed > 0:
		return report.Inconclusive, fmt.Sprintf("%d docker starts failed: %s", res.Failed, res.Errors[0]), nil
	case !armed:
		return report.Inconclusive, fmt.Sprintf("the %s profile compiles to %d bytes, which fits the %d-byte pipe: the trigger was not armed", profile.Name, profile.BPFBytes, unprivilegedPipeBytes), nil
	}
	// The containers ran with the trigger in force: their own pipes say so.
	size, err := r.containerPipeSize(ctx, dk, fmt.Sprintf("%s-%d", r.short, res.Started))
	if err != nil || size > unprivilegedPipeBytes {
		return report.Inconclusive, fmt.Sprintf("could not show the soft limit was in force for the containers (pipe size %d, %v)", size, err), nil
	}
	return report.NotReproduced, fmt.Sprintf("%d of %d docker starts returned with a %d-byte seccomp filter while the containers' own pipes held %d bytes",
		res.Started, r.attempts, profile.BPFBytes, size), nil
}

func dockerOutcome(size int, err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	return fmt.Sprintf("ran; a pipe made inside the container holds %d bytes", size)
}

// dockerRunOnce runs one container to completion and returns the pipe size its init saw.
func (r *run) dockerRunOnce(ctx context.Context, dk *engine.Docker, name, ref string, opts []string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	id, err := dk.Run(ctx, name, ref, opts)
	if err != nil {
		return 0, err
	}
	waitc, errc := dk.Client.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case <-waitc:
	case err := <-errc:
		return 0, err
	}
	return r.containerPipeSize(ctx, dk, name)
}

// containerPipeSize reads the init's JSON report from the container's log.
func (r *run) containerPipeSize(ctx context.Context, dk *engine.Docker, name string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waitc, errc := dk.Client.ContainerWait(ctx, name, container.WaitConditionNotRunning)
	select {
	case <-waitc:
	case err := <-errc:
		return 0, err
	}
	rc, err := dk.Client.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true})
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, rc); err != nil {
		return 0, err
	}
	var seen struct {
		OK       bool `json:"ok"`
		PipeSize int  `json:"pipe_size"`
	}
	if err := json.Unmarshal([]byte(lastJSONLine(stdout.String())), &seen); err != nil || !seen.OK {
		return 0, fmt.Errorf("container %s printed no report: %q", name, stdout.String())
	}
	return seen.PipeSize, nil
}

// captureDockerHang records the engine layer around the stuck init and how
// the engine answers while it is stuck (the seed's node went NotReady
// because these calls stalled).
func (r *run) captureDockerHang(ctx context.Context, dk *engine.Docker, dir string, f *detect.Finding) {
	env := r.env
	env.Step(report.Step{At: f.At.UTC(), Name: "detected", Detail: f.Summary, Status: "failed"})
	env.Logf("detected after %s: %s", f.Latency().Round(time.Millisecond), f.Summary)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if procs, err := env.Node.Processes(ctx); err == nil {
		env.Evidence("engine process tree (dockerd -> containerd -> shim -> runc init)", engine.ProcessTree(procs, dir))
		for _, p := range procs {
			if p.PID == f.Processes[0].PPID {
				if snap, err := env.Node.InspectProcess(ctx, p.PID); err == nil {
					f.Processes = append(f.Processes, snap)
				}
			}
		}
	}
	for _, probe := range []struct {
		name string
		call func(context.Context) error
	}{
		{"docker ps", func(ctx context.Context) error {
			_, err := dk.Client.ContainerList(ctx, container.ListOptions{All: true})
			return err
		}},
		{"docker inspect (stuck container)", func(ctx context.Context) error {
			list, err := dk.Client.ContainerList(ctx, container.ListOptions{All: true, Limit: 1})
			if err != nil || len(list) == 0 {
				return err
			}
			_, err = dk.Client.ContainerInspect(ctx, list[0].ID)
			return err
		}},
	} {
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		start := time.Now()
		err := probe.call(pctx)
		pcancel()
		took := time.Since(start)
		value := fmt.Sprintf("answered in %s", took.Round(time.Millisecond))
		if err != nil {
			value = fmt.Sprintf("failed after %s: %v", took.Round(time.Millisecond), err)
		}
		env.Condition(probe.name+" while runc init is stuck", value)
		f.Reasons = append(f.Reasons, probe.name+" "+value)
	}
	env.Report.Findings = append(env.Report.Findings, *f)
}
