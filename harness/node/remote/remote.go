package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/poll"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// Config says how to reach a node.
type Config struct {
	// NodeName and ProviderName are what Name and Provider return.
	NodeName, ProviderName string
	Host                   string
	Port                   int
	User                   string
	KeyFile                string
	// ControlDir holds the ssh master socket (keep it short: unix socket
	// paths are limited to 108 bytes).
	ControlDir string
	// KnownHosts is a known_hosts file holding the node's host keys under
	// HostKeyAlias: ssh then accepts no other key, so nothing else that
	// answers on Host:Port (another local user's listener) is taken for
	// the node. Empty: any key is accepted (a box whose keys relapse did
	// not make).
	KnownHosts, HostKeyAlias string
	// Sudo runs every command through `sudo -n` (a box whose login user is
	// not root, such as Vagrant's).
	Sudo bool
	// Agent is the agent's path on the node.
	Agent string
	// Via prefixes the ssh client's command line: a node reachable only
	// from a network namespace (a Vagrant box on libvirt's network in
	// relapse's namespace) is reached through nsenter.
	Via []string
}

// Node is a node reached over ssh.
type Node struct {
	cfg Config
	// served, once Serve succeeded, answers the calls that need no
	// streaming without an ssh session each.
	served *served
}

var _ node.Node = (*Node)(nil)

// New returns the node; nothing is contacted until a command runs.
func New(cfg Config) *Node {
	if cfg.Agent == "" {
		cfg.Agent = agent.NodePath
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	return &Node{cfg: cfg}
}

func (n *Node) Name() string     { return n.cfg.NodeName }
func (n *Node) Provider() string { return n.cfg.ProviderName }

// sshArgs are the client options: the node's pinned host keys (or none,
// see Config.KnownHosts) and never a prompt, no password prompts,
// keep-alives so a frozen VM fails the command instead of hanging it, and
// the shared master connection.
func (n *Node) sshArgs() []string {
	args := []string{"-i", n.cfg.KeyFile, "-p", strconv.Itoa(n.cfg.Port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"}
	args = append(args, n.hostKeyArgs()...)
	return append(args,
		"-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=4",
		"-o", "ControlMaster=auto", "-o", "ControlPath="+path.Join(n.cfg.ControlDir, "%C"), "-o", "ControlPersist=10m",
		n.cfg.User+"@"+n.cfg.Host,
	)
}

// hostKeyArgs check the node's host key against the pinned ones when
// there are some: under an alias, so the port qemu forwards from (new for
// every node) plays no part, and with no global file or update that could
// add another key.
func (n *Node) hostKeyArgs() []string {
	if n.cfg.KnownHosts == "" {
		return []string{"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"}
	}
	return []string{"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + n.cfg.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "HostKeyAlias=" + n.cfg.HostKeyAlias,
		"-o", "UpdateHostKeys=no", "-o", "CheckHostIP=no"}
}

// SSHCommand is the ssh command line that runs a shell line on the node,
// for manual steps in reports.
func (n *Node) SSHCommand() string {
	return textutil.ShellQuote(n.sshArgv(n.sshArgs())...)
}

// sshArgv is the local command line of an ssh client with args.
func (n *Node) sshArgv(args []string) []string {
	return append(append(append([]string(nil), n.cfg.Via...), "ssh"), args...)
}

// Close ends the master connection.
func (n *Node) Close() error {
	argv := n.sshArgv(append([]string{"-O", "exit"}, n.sshArgs()...))
	_ = exec.Command(argv[0], argv[1:]...).Run()
	return nil
}

// WaitReady polls until a command succeeds on the node or ctx ends.
func (n *Node) WaitReady(ctx context.Context, every time.Duration) error {
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		last = n.Command("true").Run(pctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not answer over ssh (%s:%d): %w; last error: %v", n.Name(), n.cfg.Host, n.cfg.Port, context.Cause(ctx), last)
		case <-time.After(every):
		}
	}
}

func (n *Node) Command(name string, args ...string) node.Cmd {
	c := &cmd{node: n}
	c.Argv = append([]string{name}, args...)
	c.Bind(c)
	return c
}

// shell runs a shell line on the node with optional stdin, returning stdout.
func (n *Node) shell(ctx context.Context, line string, stdin io.Reader) ([]byte, error) {
	c := n.Command("sh", "-c", line)
	if stdin != nil {
		c.SetStdin(stdin)
	}
	return c.Output(ctx)
}

func (n *Node) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if n.served != nil {
		data, err := n.served.read(ctx, p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s on %s: %w", p, n.Name(), os.ErrNotExist)
		}
		return data, n.wrapServed(err)
	}
	out, err := n.shell(ctx, "if [ -e "+quote(p)+" ]; then exec cat -- "+quote(p)+"; else exit 66; fi", nil)
	var re *node.RunError
	if errors.As(err, &re) && exitCode(re.Err) == 66 {
		return nil, fmt.Errorf("%s on %s: %w", p, n.Name(), os.ErrNotExist)
	}
	return out, err
}

func (n *Node) WriteFile(ctx context.Context, p string, data []byte, mode os.FileMode) error {
	if n.served != nil {
		return n.wrapServed(n.served.write(ctx, p, bytes.NewReader(data), mode, false))
	}
	_, err := n.shell(ctx, writeLine(p, mode, false), bytes.NewReader(data))
	return err
}

func (n *Node) CopyIn(ctx context.Context, localPath, nodePath string, mode os.FileMode) error {
	f, err := os.Open(localPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if n.served != nil {
		return n.wrapServed(n.served.write(ctx, nodePath, f, mode, true))
	}
	_, err = n.shell(ctx, writeLine(nodePath, mode, true), f)
	return err
}

// writeLine is the shell line that stores stdin at p with mode. Binaries go
// through a temporary name and a rename, so a file being executed is
// replaced rather than rewritten ("text file busy"); /proc/sys files are
// written in place, and chmod only runs when the mode differs (they refuse it).
func writeLine(p string, mode os.FileMode, viaRename bool) string {
	m := fmt.Sprintf("%o", mode.Perm())
	q := quote(p)
	fix := fmt.Sprintf(`[ "$(stat -c %%a %s)" = %s ] || chmod %s %s`, q, m, m, q)
	if viaRename {
		tmp := quote(p + ".relapse-tmp")
		return fmt.Sprintf("mkdir -p %s && cat > %s && chmod %s %s && mv -f %s %s", quote(path.Dir(p)), tmp, m, tmp, tmp, q)
	}
	return fmt.Sprintf("mkdir -p %s && cat > %s && { %s; }", quote(path.Dir(p)), q, fix)
}

// wrapServed names the node in an error of the agent's server.
func (n *Node) wrapServed(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("on %s through the agent's server: %w", n.Name(), err)
}

// agentJSON runs an agent subcommand and decodes its JSON answer.
func (n *Node) agentJSON(ctx context.Context, v any, args ...string) error {
	var out []byte
	var err error
	if n.served != nil {
		out, err = n.served.agent(ctx, args...)
	} else {
		out, err = n.Command(n.cfg.Agent, args...).Output(ctx)
	}
	if err != nil {
		if exitCode(err) == agent.ExitNoProcess {
			return fmt.Errorf("%s: %w", strings.Join(args, " "), evidence.ErrNoProcess)
		}
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("decoding relapse-agent %s on %s: %w", strings.Join(args, " "), n.Name(), err)
	}
	return nil
}

func (n *Node) Processes(ctx context.Context) ([]evidence.Process, error) {
	var procs []evidence.Process
	return procs, n.agentJSON(ctx, &procs, "processes")
}

func (n *Node) InspectProcess(ctx context.Context, pid int) (evidence.ProcessSnapshot, error) {
	var s evidence.ProcessSnapshot
	return s, n.agentJSON(ctx, &s, "inspect", strconv.Itoa(pid))
}

func (n *Node) PipeHolders(ctx context.Context, inode uint64) ([]evidence.PipeHolder, error) {
	var h []evidence.PipeHolder
	return h, n.agentJSON(ctx, &h, "pipe-holders", strconv.FormatUint(inode, 10))
}

func (n *Node) Facts(ctx context.Context) (evidence.HostFacts, error) {
	var f evidence.HostFacts
	return f, n.agentJSON(ctx, &f, "facts")
}

func (n *Node) Kill(ctx context.Context, pid int, signal int) error {
	// A process that is already gone is not an error, as on the local node.
	return n.Command("sh", "-c", fmt.Sprintf("kill -%d %d 2>/dev/null || ! kill -0 %d 2>/dev/null", signal, pid, pid)).Run(ctx)
}

// exitCode is the exit status in err (an ssh client's, which is the
// remote command's, or the agent server's report), -1 without one.
func exitCode(err error) int {
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func quote(s string) string { return textutil.ShellQuote(s) }

type cmd struct {
	node.CmdSpec
	node *Node
}

// String is the command as it runs on the node.
func (c *cmd) String() string {
	argv := c.Argv
	if len(c.Env) > 0 {
		argv = append(append([]string{"env"}, c.Env...), argv...)
	}
	line := textutil.ShellQuote(argv...)
	if c.Dir != "" {
		line = "cd " + quote(c.Dir) + " && " + line
	}
	return line
}

// pidMarker starts the first line the remote wrapper prints on stderr.
const pidMarker = "relapse-remote-pid "

// remoteLine wraps the command so that it reports its PID first (on
// stderr), then replaces the wrapper: the PID is the command's own, and
// `kill` of its process group on the node reaches what it started.
func (c *cmd) remoteLine() string {
	script := `echo "` + pidMarker + `$$" >&2`
	if c.Dir != "" {
		script += ` && cd ` + quote(c.Dir)
	}
	if c.OutputFile != "" {
		script += ` && exec >>` + quote(c.OutputFile) + ` 2>&1`
	}
	script += ` && exec "$@"`
	argv := c.Argv
	if len(c.Env) > 0 {
		argv = append(append([]string{"env"}, c.Env...), argv...)
	}
	words := append([]string{"exec"}, c.sudo()...)
	words = append(words, "sh", "-c", script, "relapse")
	return textutil.ShellQuote(words...) + " " + textutil.ShellQuote(argv...)
}

func (c *cmd) sudo() []string {
	if c.node.cfg.Sudo {
		return []string{"sudo", "-n"}
	}
	return nil
}

// Run goes through the agent's server when the node has one and the
// command's output goes to buffers; otherwise it is an ssh session.
func (c *cmd) Run(ctx context.Context) error {
	if c.servable() {
		return c.runServed(ctx)
	}
	return c.CmdSpec.Run(ctx)
}

func (c *cmd) Start(ctx context.Context) (node.Process, error) {
	p := &process{cmd: c, ctx: ctx, pidKnown: make(chan struct{})}
	argv := c.node.sshArgv(append(c.node.sshArgs(), c.remoteLine()))
	x := exec.Command(argv[0], argv[1:]...)
	x.Stdin = c.Stdin
	if x.Stdin == nil {
		// ssh would otherwise read relapse's own stdin.
		x.Stdin = bytes.NewReader(nil)
	}
	x.Stdout = c.Stdout
	if x.Stdout == nil {
		x.Stdout = &p.captured
	}
	errOut := c.Stderr
	if errOut == nil {
		errOut = &p.captured
	}
	x.Stderr = &pidSniffer{out: errOut, found: p.setPID}
	x.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	x.WaitDelay = 5 * time.Second
	p.exec = x
	if err := x.Start(); err != nil {
		return nil, c.wrap(ctx, err, nil)
	}
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = x.Wait()
		close(p.exited)
	}()
	// Cancellation kills the command on the node, then the client.
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Kill()
		case <-p.exited:
		}
	}()
	select {
	case <-p.pidKnown:
	case <-p.exited:
	case <-ctx.Done():
	}
	return p, nil
}

func (c *cmd) wrap(ctx context.Context, err error, out []byte) error {
	return node.WrapRunError(ctx, c.node.Name(), c.String(), err, out)
}

type process struct {
	cmd      *cmd
	ctx      context.Context
	exec     *exec.Cmd
	captured syncBuffer
	exited   chan struct{}
	waitErr  error

	pidOnce  sync.Once
	pid      int
	pidKnown chan struct{}
}

func (p *process) setPID(pid int) {
	p.pidOnce.Do(func() { p.pid = pid; close(p.pidKnown) })
}

// PID is the command's PID on the node (0 if it never started there).
func (p *process) PID() int {
	select {
	case <-p.pidKnown:
		return p.pid
	default:
		return 0
	}
}

func (p *process) Wait() error {
	<-p.exited
	return p.cmd.wrap(p.ctx, p.waitErr, p.captured.Bytes())
}

// Kill kills the command's process group on the node, then the local ssh
// client; a node that does not answer within 10 s is left to its provider.
func (p *process) Kill() error {
	if pid := p.PID(); pid > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 10*time.Second)
		line := fmt.Sprintf(`pg=$(ps -o pgid= -p %d | tr -d ' '); [ -n "$pg" ] && [ "$pg" -gt 1 ] && kill -9 -- -"$pg" 2>/dev/null; kill -9 %d 2>/dev/null; true`, pid, pid)
		_ = p.cmd.node.Command("sh", "-c", line).Run(ctx)
		cancel()
	}
	if p.exec.Process != nil {
		_ = p.exec.Process.Kill()
	}
	return nil
}

// pidSniffer passes stderr through, taking out the wrapper's PID line.
type pidSniffer struct {
	out   io.Writer
	found func(int)
	done  bool
	line  []byte
}

func (s *pidSniffer) Write(b []byte) (int, error) {
	if s.done {
		return s.out.Write(b)
	}
	n := len(b)
	s.line = append(s.line, b...)
	i := bytes.IndexByte(s.line, '\n')
	if i < 0 {
		if len(s.line) > 256 { // not our line: give up sniffing
			s.done = true
			_, err := s.out.Write(s.line)
			return n, err
		}
		return n, nil
	}
	first, rest := s.line[:i], s.line[i+1:]
	s.done = true
	if v, ok := strings.CutPrefix(string(first), pidMarker); ok {
		if pid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			s.found(pid)
		}
	} else {
		rest = s.line
	}
	if len(rest) > 0 {
		if _, err := s.out.Write(rest); err != nil {
			return n, err
		}
	}
	return n, nil
}

// syncBuffer is a bytes.Buffer safe for the two writers ssh output has.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// ForwardSocket makes nodeSocket on the node lead to localSocket on the
// machine running relapse (ssh -R over a connection of its own, not the
// shared master, so that stopping it ends exactly this forward): a
// component on the node (kubelet) reaches a server relapse runs (its CRI
// proxy). It returns once the node's socket exists; stop ends the forward
// and removes the node's socket.
func (n *Node) ForwardSocket(ctx context.Context, nodeSocket, localSocket string) (stop func(context.Context) error, err error) {
	args := append([]string{"-N", "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "ExitOnForwardFailure=yes",
		"-o", "StreamLocalBindUnlink=yes", "-R", nodeSocket + ":" + localSocket}, n.sshArgs()...)
	argv := n.sshArgv(args)
	x := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	x.Stdout, x.Stderr = &out, &out
	x.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := x.Start(); err != nil {
		return nil, fmt.Errorf("forwarding %s on %s to %s: %w", nodeSocket, n.Name(), localSocket, err)
	}
	exited := make(chan struct{})
	go func() { _ = x.Wait(); close(exited) }()
	stop = func(ctx context.Context) error {
		_ = x.Process.Kill()
		<-exited
		return n.Command("rm", "-f", nodeSocket).Run(ctx)
	}
	errExited := errors.New("ssh exited")
	err = poll.Within(ctx, 20*time.Second, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		if n.Command("test", "-S", nodeSocket).Run(ctx) == nil {
			return true, nil
		}
		select {
		case <-exited:
			return false, errExited
		default:
			return false, nil
		}
	})
	switch {
	case err == nil:
		return stop, nil
	case errors.Is(err, errExited):
		return nil, fmt.Errorf("forwarding %s on %s to %s: %s exited: %s", nodeSocket, n.Name(), localSocket, textutil.ShellQuote(argv...), out.String())
	default:
		_ = stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("forwarding %s on %s to %s: no socket on the node within 20 s: %w (%s)", nodeSocket, n.Name(), localSocket, err, textutil.ShellQuote(argv...))
	}
}
