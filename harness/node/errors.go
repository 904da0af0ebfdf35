package node

import (
	"context"
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/textutil"
)

// RunError is a command that failed on a node. Its message carries the
// command as a shell line and the tail of what it printed, so a log line is
// enough to re-run it by hand.
type RunError struct {
	Node    string
	Command string
	Output  []byte
	Err     error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("command failed on node %s: %s: %v", e.Node, e.Command, e.Err)
	if out := strings.TrimSpace(string(e.Output)); out != "" {
		msg += "\noutput:\n" + textutil.LastLines(out, 20)
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

// WrapRunError turns a failed command into a *RunError; a command killed
// because ctx ended says so. Every provider's Cmd reports failures this way.
func WrapRunError(ctx context.Context, nodeName, command string, err error, out []byte) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (killed: %v)", err, context.Cause(ctx))
	}
	return &RunError{Node: nodeName, Command: command, Output: out, Err: err}
}
