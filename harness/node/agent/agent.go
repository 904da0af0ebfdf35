package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/versions"
)

// NodePath is where providers put the agent on a node.
const NodePath = "/opt/relapse/relapse-agent"

// ExitNoProcess is the agent's exit status when the process asked about is
// gone; the caller maps it back to evidence.ErrNoProcess.
const ExitNoProcess = 3

// command is one agent subcommand.
type command struct {
	usage string
	run   func(ctx context.Context, args []string, out io.Writer) error
}

var commands = map[string]command{
	"processes": {"processes", func(_ context.Context, _ []string, out io.Writer) error {
		procs, err := evidence.LocalProc.Processes()
		return emit(out, procs, err)
	}},
	"inspect": {"inspect PID", func(_ context.Context, args []string, out io.Writer) error {
		pid, err := intArg(args, 0)
		if err != nil {
			return err
		}
		snap, err := evidence.LocalProc.Snapshot(pid)
		return emit(out, snap, err)
	}},
	"pipe-holders": {"pipe-holders INODE", func(_ context.Context, args []string, out io.Writer) error {
		if len(args) < 1 {
			return errors.New("missing INODE")
		}
		inode, err := strconv.ParseUint(args[0], 10, 64)
		if err != nil {
			return fmt.Errorf("INODE: %w", err)
		}
		holders, err := evidence.LocalProc.PipeHolders(inode)
		return emit(out, holders, err)
	}},
	"facts": {"facts", func(_ context.Context, _ []string, out io.Writer) error {
		return emit(out, evidence.LocalHostFacts(), nil)
	}},
}

// Register adds a subcommand; packages with node-side halves call it from
// init, and cmd/relapse-agent imports them.
func Register(name, usage string, run func(ctx context.Context, args []string, out io.Writer) error) {
	if _, dup := commands[name]; dup {
		panic("agent command registered twice: " + name)
	}
	commands[name] = command{usage, run}
}

// emit writes v as JSON, or passes the error on.
func emit(out io.Writer, v any, err error) error {
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(v)
}

func intArg(args []string, i int) (int, error) {
	if len(args) <= i {
		return 0, errors.New("missing argument")
	}
	return strconv.Atoi(args[i])
}

// Main runs the agent with os.Args and returns its exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, "usage: relapse-agent <command> [args]; commands:")
		for _, c := range commands {
			fmt.Fprintln(stderr, "  "+c.usage)
		}
		return 2
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "relapse-agent: unknown command %q\n", args[0])
		return 2
	}
	if err := c.run(ctx, args[1:], stdout); err != nil {
		fmt.Fprintf(stderr, "relapse-agent %s: %v\n", args[0], err)
		if errors.Is(err, evidence.ErrNoProcess) {
			return ExitNoProcess
		}
		return 1
	}
	return 0
}

// Build compiles the agent as a static binary for the node's architecture
// (amd64, the only one relapse's VM nodes run) into relapse's cache and
// returns its path.
func Build(ctx context.Context, cacheRoot string) (string, error) {
	dir := filepath.Join(cacheRoot, "agent")
	out := filepath.Join(dir, "relapse-agent")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return "", err
	}
	unlock, err := versions.LockDir(dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Straight onto the cached binary: go build leaves an up-to-date one
	// as it is (no link, ~0.4 s instead of ~1.5 s), and with its work
	// directory beside it a new one is renamed into place, never written
	// over a copy another run is reading.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/relapse-agent")
	cmd.Dir = sourceRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOTOOLCHAIN=local", "GOTMPDIR="+filepath.Join(dir, "tmp"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the node agent (go build ./cmd/relapse-agent in %s): %w\n%s", cmd.Dir, err, b)
	}
	return out, nil
}

// sourceRoot is the module root of the tree relapse was built from.
func sourceRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
