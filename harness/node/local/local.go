package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// Node is the local host.
type Node struct{}

// New returns the local host as a node.
func New() *Node { return &Node{} }

var _ node.Node = (*Node)(nil)

func (*Node) Name() string     { return "local" }
func (*Node) Provider() string { return "local" }

func (n *Node) Command(name string, args ...string) node.Cmd {
	c := &cmd{node: n}
	c.Argv = append([]string{name}, args...)
	c.Bind(c)
	return c
}

func (*Node) ReadFile(_ context.Context, path string) ([]byte, error) {
	return os.ReadFile(path)
}

func (*Node) WriteFile(_ context.Context, path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return ensureMode(path, mode)
}

// ensureMode fixes the mode of a file that existed before it was written
// (os.WriteFile applies mode only when it creates). Files that already have
// it are left alone: /proc/sys entries refuse chmod.
func ensureMode(path string, mode os.FileMode) error {
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() == mode.Perm() {
		return err
	}
	return os.Chmod(path, mode)
}

func (*Node) CopyIn(_ context.Context, localPath, nodePath string, mode os.FileMode) error {
	if localPath == nodePath {
		return os.Chmod(nodePath, mode)
	}
	data, err := os.ReadFile(localPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(nodePath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(nodePath, data, mode); err != nil {
		return err
	}
	return ensureMode(nodePath, mode)
}

func (*Node) Processes(context.Context) ([]evidence.Process, error) {
	return evidence.LocalProc.Processes()
}

// ProcessesWithComm lists only the processes whose comm keep accepts,
// reading little of the others (see evidence.ProcFS.ProcessesWithComm).
func (*Node) ProcessesWithComm(_ context.Context, keep func(comm string) bool) ([]evidence.Process, error) {
	return evidence.LocalProc.ProcessesWithComm(keep)
}

func (*Node) InspectProcess(_ context.Context, pid int) (evidence.ProcessSnapshot, error) {
	return evidence.LocalProc.Snapshot(pid)
}

func (*Node) PipeHolders(_ context.Context, inode uint64) ([]evidence.PipeHolder, error) {
	return evidence.LocalProc.PipeHolders(inode)
}

func (*Node) Facts(context.Context) (evidence.HostFacts, error) {
	return evidence.LocalHostFacts(), nil
}

func (*Node) Kill(_ context.Context, pid int, signal int) error {
	if err := syscall.Kill(pid, syscall.Signal(signal)); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill -%d %d: %w", signal, pid, err)
	}
	return nil
}

type cmd struct {
	node.CmdSpec
	node *Node

	closeAfterStart []io.Closer
}

func (c *cmd) String() string { return textutil.ShellQuote(c.Argv...) }

// build makes the exec.Cmd. Output not sent elsewhere is captured so a
// failure can show it.
func (c *cmd) build(ctx context.Context, captured *bytes.Buffer) (*exec.Cmd, error) {
	x := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	x.Env = append(os.Environ(), c.Env...)
	x.Dir = c.Dir
	x.Stdin = c.Stdin
	x.Stdout, x.Stderr = c.Stdout, c.Stderr
	if c.OutputFile != "" {
		f, err := os.OpenFile(c.OutputFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening output file for %s: %w", c.String(), err)
		}
		// exec hands an *os.File to the child as is: no copying goroutine.
		// The child holds its own copy, so ours can close once it started.
		x.Stdout, x.Stderr = f, f
		c.closeAfterStart = append(c.closeAfterStart, f)
	}
	if x.Stdout == nil {
		x.Stdout = captured
	}
	if x.Stderr == nil {
		x.Stderr = captured
	}
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// On cancellation kill the whole group: a hung runc leaves children.
	x.Cancel = func() error { return syscall.Kill(-x.Process.Pid, syscall.SIGKILL) }
	x.WaitDelay = 5 * time.Second
	return x, nil
}

func (c *cmd) started() {
	for _, f := range c.closeAfterStart {
		f.Close()
	}
	c.closeAfterStart = nil
}

func (c *cmd) wrap(ctx context.Context, err error, out []byte) error {
	return node.WrapRunError(ctx, c.node.Name(), c.String(), err, out)
}

func (c *cmd) Start(ctx context.Context) (node.Process, error) {
	p := &process{cmd: c, ctx: ctx}
	x, err := c.build(ctx, &p.captured)
	if err != nil {
		return nil, c.wrap(ctx, err, nil)
	}
	p.exec = x
	err = x.Start()
	c.started()
	if err != nil {
		return nil, c.wrap(ctx, err, nil)
	}
	return p, nil
}

type process struct {
	cmd      *cmd
	ctx      context.Context
	exec     *exec.Cmd
	captured bytes.Buffer
}

func (p *process) PID() int { return p.exec.Process.Pid }

func (p *process) Wait() error {
	return p.cmd.wrap(p.ctx, p.exec.Wait(), p.captured.Bytes())
}

func (p *process) Kill() error {
	return syscall.Kill(-p.exec.Process.Pid, syscall.SIGKILL)
}
