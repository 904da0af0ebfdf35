package node

import (
	"bytes"
	"context"
	"io"
	"os"

	"github.com/relapse-dev/relapse/harness/evidence"
)

// Node is one machine an experiment runs on.
type Node interface {
	// Name identifies the node in reports ("local", "qemu-6.1.0-50", ...).
	Name() string
	// Provider names the backend that made the node ("local", "qemu", ...).
	Provider() string
	// Command prepares a command to run on the node.
	Command(name string, args ...string) Cmd
	// ReadFile returns the contents of a file on the node.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// WriteFile creates or replaces a file on the node.
	WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error
	// CopyIn copies a file from the machine running relapse onto the node.
	CopyIn(ctx context.Context, localPath, nodePath string, mode os.FileMode) error
	// Processes lists the node's processes with the /proc facts detectors need.
	Processes(ctx context.Context) ([]evidence.Process, error)
	// InspectProcess takes a deep snapshot of one process: stack, syscall,
	// file descriptors resolved to pipes and their sizes.
	InspectProcess(ctx context.Context, pid int) (evidence.ProcessSnapshot, error)
	// PipeHolders lists every descriptor open on a pipe, in any process.
	PipeHolders(ctx context.Context, inode uint64) ([]evidence.PipeHolder, error)
	// Facts describes the node: kernel, distribution, libraries, limits.
	Facts(ctx context.Context) (evidence.HostFacts, error)
	// Kill sends a signal to a process on the node.
	Kill(ctx context.Context, pid int, signal int) error
}

// Cmd is a command bound to a node. It is shaped after os/exec so that
// providers can implement it over a local exec, ssh or a container exec.
type Cmd interface {
	SetEnv(env ...string) Cmd
	SetDir(dir string) Cmd
	SetStdin(r io.Reader) Cmd
	SetStdout(w io.Writer) Cmd
	SetStderr(w io.Writer) Cmd
	// SetOutputFile sends stdout and stderr straight into a file on the
	// node. Use it when the command leaves children holding its output
	// (runc create's detached init): with a pipe, waiting for the command
	// would wait for them too.
	SetOutputFile(path string) Cmd
	// Run runs the command to completion or until ctx ends; in that case the
	// process is killed and the error says so.
	Run(ctx context.Context) error
	// Output runs the command and returns its standard output.
	Output(ctx context.Context) ([]byte, error)
	// Start starts the command and returns a handle to it.
	Start(ctx context.Context) (Process, error)
	// String is the command as a shell line.
	String() string
}

// Process is a command started on a node.
type Process interface {
	// PID is the process id on the node.
	PID() int
	// Wait waits for the process to exit; the error is a *RunError on failure.
	Wait() error
	// Kill sends SIGKILL to the process.
	Kill() error
}

// CmdSpec is what every provider's Cmd records before it runs: argv,
// environment, directory and where input and output go. Providers embed it
// and Bind it to themselves, so the setters are written once.
type CmdSpec struct {
	Argv   []string
	Env    []string
	Dir    string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// OutputFile is SetOutputFile's path on the node.
	OutputFile string
	self       Cmd
}

// Bind makes the setters return the provider's command.
func (s *CmdSpec) Bind(self Cmd) { s.self = self }

func (s *CmdSpec) SetEnv(env ...string) Cmd      { s.Env = env; return s.self }
func (s *CmdSpec) SetDir(dir string) Cmd         { s.Dir = dir; return s.self }
func (s *CmdSpec) SetStdin(r io.Reader) Cmd      { s.Stdin = r; return s.self }
func (s *CmdSpec) SetStdout(w io.Writer) Cmd     { s.Stdout = w; return s.self }
func (s *CmdSpec) SetStderr(w io.Writer) Cmd     { s.Stderr = w; return s.self }
func (s *CmdSpec) SetOutputFile(path string) Cmd { s.OutputFile = path; return s.self }

// Run starts the command and waits for it.
func (s *CmdSpec) Run(ctx context.Context) error {
	p, err := s.self.Start(ctx)
	if err != nil {
		return err
	}
	return p.Wait()
}

// Output runs the command and returns its standard output. It runs it
// through the provider's Run, which may take another way than Start (the
// agent's server on a VM node).
func (s *CmdSpec) Output(ctx context.Context) ([]byte, error) {
	var stdout bytes.Buffer
	s.Stdout = &stdout
	err := s.self.Run(ctx)
	return stdout.Bytes(), err
}
