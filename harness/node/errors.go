package node

import (
	"fmt"
	"strings"
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
		msg += "\noutput:\n" + lastLines(out, 20)
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// ShellQuote joins argv into one line a POSIX shell parses back to argv.
func ShellQuote(argv ...string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = quoteArg(a)
		// A bare NAME=value first word is an environment assignment to the shell.
		if i == 0 && quoted[i] == a && strings.Contains(a, "=") {
			quoted[i] = "'" + a + "'"
		}
	}
	return strings.Join(quoted, " ")
}

func quoteArg(a string) string {
	if a == "" {
		return "''"
	}
	safe := true
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
