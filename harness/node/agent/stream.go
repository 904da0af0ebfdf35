package agent

import (
	"bufio"
	"context"
	"io"
	"sync"

	"github.com/relapse-dev/relapse/harness/node"
)

// Stream is an agent subcommand running on a node whose JSON lines are
// handed to a callback as they arrive.
type Stream struct {
	proc node.Process
	done chan struct{}
	err  error
	once sync.Once
}

// StartStream starts `relapse-agent ARGS...` on n and calls onLine for each
// line it prints, until it exits or Stop is called.
func StartStream(ctx context.Context, n node.Node, onLine func([]byte), args ...string) (*Stream, error) {
	pr, pw := io.Pipe()
	proc, err := n.Command(NodePath, args...).SetStdout(pw).Start(ctx)
	if err != nil {
		pw.Close()
		return nil, err
	}
	s := &Stream{proc: proc, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			onLine(sc.Bytes())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		s.err = proc.Wait()
		pw.Close()
		close(s.done)
	}()
	return s, nil
}

// Done is closed when the subcommand has exited.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err is the subcommand's exit error, once Done is closed.
func (s *Stream) Err() error { <-s.done; return s.err }

// Stop kills the subcommand on the node and waits for it.
func (s *Stream) Stop() {
	s.once.Do(func() { _ = s.proc.Kill() })
	<-s.done
}
