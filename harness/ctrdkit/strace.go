package ctrdkit

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/poll"
)

// SyscallDelay is strace delaying one syscall of a shim: the fault
// upstream's regression tests inject for a slow host (containerd's
// issue7496 test delays umount2 past the CRI plugin's timeout).
type SyscallDelay struct {
	k       *Kit
	syscall string
	log     string
}

// DelaySyscall attaches strace to the shim pid's threads (not to the runc
// processes it starts: --detach-on=execve) and delays every call of
// syscall by delay until the shim exits or the run ends; strace's output
// becomes evidence. It returns once strace has attached.
func (k *Kit) DelaySyscall(ctx context.Context, pid int, syscall string, delay time.Duration) (*SyscallDelay, error) {
	env := k.run.Env
	d := &SyscallDelay{k: k, syscall: syscall, log: filepath.Join(env.Dir, fmt.Sprintf("strace-%d.log", pid))}
	args := []string{"-p", strconv.Itoa(pid), "-f", "--detach-on=execve", "--trace=" + syscall,
		"-e", fmt.Sprintf("inject=%s:delay_enter=%dms", syscall, delay.Milliseconds())}
	p, err := env.Node.Command("strace", args...).SetOutputFile(d.log).Start(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("strace: %w", err)
	}
	env.DeferCleanup(fmt.Sprintf("stop strace on the shim (pid %d)", pid), func(ctx context.Context) error {
		_ = p.Kill()
		_ = p.Wait()
		if log, err := env.Node.ReadFile(ctx, d.log); err == nil {
			env.Evidence(fmt.Sprintf("strace on the shim (pid %d, %s delayed %s)", pid, syscall, delay), string(log))
		}
		return nil
	})
	k.run.Script(fmt.Sprintf("strace %s 2> strace-%d.log &  # the fault", strings.Join(args, " "), pid))
	// strace says when it has attached; a call before that is not delayed.
	return d, poll.Within(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		log, _ := env.Node.ReadFile(ctx, d.log)
		return strings.Contains(string(log), "attached"), nil
	})
}

// Delayed counts the calls strace has delayed so far: its lines of the
// syscall ending "(DELAYED)" (the resumed half of an interrupted line, or
// the whole line), so a caller can tell the fault was in force.
func (d *SyscallDelay) Delayed(ctx context.Context) int {
	log, _ := d.k.Node.ReadFile(ctx, d.log)
	n := 0
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, d.syscall) && strings.HasSuffix(strings.TrimSpace(line), "(DELAYED)") {
			n++
		}
	}
	return n
}
