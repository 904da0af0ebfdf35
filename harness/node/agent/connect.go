package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/node"
)

// connect is the node-side half of Dial: it connects to an address on the
// node (a TCP port in whatever network namespace it was started in, or a
// unix socket) and relays it over its standard input and output.
func connect(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return errors.New("usage: connect NETWORK ADDRESS (tcp 127.0.0.1:6443, unix /path/to.sock)")
	}
	return relay(ctx, os.Stdin, stdout, args[0], args[1])
}

// relay dials network/addr and copies in to it and it to out, until the
// far end closes.
func relay(ctx context.Context, in io.Reader, out io.Writer, network, addr string) error {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := d.DialContext(dctx, network, addr)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, in)
		// The caller closed its side: pass the end of input on.
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, err = io.Copy(out, conn)
	return err
}

func init() {
	Register("connect", "connect NETWORK ADDRESS", connect)
}

// Dial connects to an address on node n through `relapse-agent connect`,
// for nodes relapse cannot reach by network (a VM behind ssh, a network
// namespace on a VM). prefix goes before the agent's command line (nsenter
// into a namespace). The connection is a local socket pair whose other end
// is the command's standard input and output; closing it ends the command.
func Dial(ctx context.Context, n node.Node, prefix []string, network, addr string) (net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket pair for a connection to %s %s on %s: %w", network, addr, n.Name(), err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "relapse-dial"), os.NewFile(uintptr(fds[1]), "relapse-dial-remote")
	defer ours.Close()
	argv := append(append([]string(nil), prefix...), NodePath, "connect", network, addr)
	// The command lives as long as the connection, not as ctx.
	proc, err := n.Command(argv[0], argv[1:]...).SetStdin(theirs).SetStdout(theirs).Start(context.WithoutCancel(ctx))
	theirs.Close()
	if err != nil {
		return nil, fmt.Errorf("dialing %s %s on %s: %w", network, addr, n.Name(), err)
	}
	c, err := net.FileConn(ours)
	if err != nil {
		_ = proc.Kill()
		return nil, err
	}
	return &agentConn{Conn: c, proc: proc}, nil
}

// agentConn is a connection relayed by a relapse-agent connect process;
// a dial the node refuses shows as the connection ending at once.
type agentConn struct {
	net.Conn
	proc node.Process
	once sync.Once
}

func (c *agentConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		_ = c.proc.Kill()
		go func() { _ = c.proc.Wait() }()
	})
	return err
}
