package ctrdkit

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
)

// ShimOfPodInScript is the reproducer's shell expression for the shim of
// the pod sandbox RunPod's script line named $POD.
const ShimOfPodInScript = `$(pgrep -f -- "-id $POD")`

// DelaySyscall delays every call of syscall by the shim pid by delay, the
// fault upstream's regression tests inject for a slow host (containerd's
// issue7496 test delays umount2 past the CRI plugin's timeout). It is the
// chaos explorer's strace-delay fault armed on that one process: strace
// follows the shim's threads but lets go of the runc processes it starts
// (at their exec), and it is journaled, so a killed run's strace is
// stopped by the next run's repair instead of staying attached to the
// shim. It returns once the kernel says the shim is traced; strace stops
// when the run ends, and its log becomes evidence.
func (k *Kit) DelaySyscall(ctx context.Context, pid int, syscall string, delay time.Duration) (*chaos.StraceArmed, error) {
	env := k.run.Env
	f := chaos.StraceFault{On: "shim", Syscall: syscall, Delay: delay, When: "1+"}
	a, err := f.ArmOn(ctx, env.Run, chaos.Target{Node: env.Node, Dir: filepath.Join(env.Dir, "faults")}, pid)
	if err != nil {
		return nil, fmt.Errorf("delaying %s of the shim (pid %d): %w", syscall, pid, err)
	}
	// The script's own run has other pids: it names the shim of the pod
	// RunPod's line made ($POD), as a person's shell would find it.
	k.run.Script(f.Reproducer(ShimOfPodInScript, fmt.Sprintf("strace-%d.log", pid))...)
	// Registered after ArmOn's own cleanup, so it runs first: strace is
	// stopped, its log complete, before it is read.
	env.DeferCleanup(fmt.Sprintf("stop strace on the shim (pid %d)", pid), func(ctx context.Context) error {
		err := a.Disarm(ctx)
		if log, rerr := env.Node.ReadFile(ctx, a.Log()); rerr == nil {
			env.Evidence(fmt.Sprintf("strace on the shim (pid %d, %s delayed %s)", pid, syscall, delay), string(log))
		}
		return err
	})
	return a, nil
}
