package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/poll"
)

// served is the way to the agent's server on the node (see agent.Serve):
// an HTTP client over a local unix socket that the ssh master forwards to
// the server's socket. Calls that need no streaming (file reads and
// writes, short commands, the agent's /proc questions) go this way; a
// command started to run alongside (Start) keeps its own ssh session.
type served struct {
	client *http.Client
}

// exitError is a command's non-zero exit status on the node.
type exitError struct{ code int }

func (e *exitError) Error() string { return "exit status " + strconv.Itoa(e.code) }
func (e *exitError) ExitCode() int { return e.code }

// Serve starts the agent's server on the node, forwards a local socket to
// it over the ssh master connection, and from then on sends the calls it
// can answer there. On any failure the node keeps using ssh sessions, and
// the error says why.
func (n *Node) Serve(ctx context.Context) error {
	// setsid -f: the server outlives this ssh session.
	start := fmt.Sprintf("setsid -f %s serve %s </dev/null >/dev/null 2>&1", quote(n.cfg.Agent), quote(agent.ServePath))
	if err := n.Command("sh", "-c", start).Run(ctx); err != nil {
		return fmt.Errorf("starting the agent's server: %w", err)
	}
	local := filepath.Join(n.cfg.ControlDir, "agent.sock")
	_ = os.Remove(local)
	argv := n.sshArgv(append([]string{"-O", "forward", "-L", local + ":" + agent.ServePath}, n.sshArgs()...))
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("forwarding %s to the agent's server: %w: %s", local, err, out)
	}
	s := newServed(local)
	// The server may still be starting: the first call through the forward
	// fails until it listens.
	var last error
	if err := poll.Within(ctx, 10*time.Second, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		_, last = s.agent(ctx, "facts")
		return last == nil, nil
	}); err != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("the agent's server did not answer through %s: %w", local, last)
	}
	n.served = s
	return nil
}

func newServed(socket string) *served {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	return &served{client: &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 8}}}
}

func (s *served) post(ctx context.Context, path string, q url.Values, header http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent"+path+"?"+q.Encode(), body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return s.client.Do(req)
}

// agent runs an agent subcommand in the server's process.
func (s *served) agent(ctx context.Context, args ...string) ([]byte, error) {
	resp, err := s.post(ctx, "/agent", url.Values{"arg": args}, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		code, _ := strconv.Atoi(resp.Header.Get(agent.ExitHeader))
		return out, fmt.Errorf("relapse-agent %s: %w: %s", strings.Join(args, " "), &exitError{code}, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// run runs a command to completion on the node.
func (s *served) run(ctx context.Context, spec agent.RunSpec, stdin io.Reader) (agent.RunResult, error) {
	var res agent.RunResult
	js, err := json.Marshal(spec)
	if err != nil {
		return res, err
	}
	if stdin == nil {
		stdin = http.NoBody
	}
	resp, err := s.post(ctx, "/run", nil, http.Header{agent.RunHeader: {string(js)}}, stdin)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return res, fmt.Errorf("the agent's server refused %q: %s", spec.Argv, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return res, fmt.Errorf("decoding the agent's answer: %w", err)
	}
	return res, nil
}

func (s *served) read(ctx context.Context, path string) ([]byte, error) {
	resp, err := s.post(ctx, "/read", url.Values{"path": {path}}, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return nil, err
	case resp.StatusCode == http.StatusNotFound:
		return nil, os.ErrNotExist
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("reading %s: %s", path, strings.TrimSpace(string(data)))
	}
	return data, nil
}

func (s *served) write(ctx context.Context, path string, data io.Reader, mode os.FileMode, viaRename bool) error {
	q := url.Values{"path": {path}, "mode": {strconv.FormatUint(uint64(mode.Perm()), 8)}}
	if viaRename {
		q.Set("rename", "1")
	}
	resp, err := s.post(ctx, "/write", q, nil, data)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("writing %s: %s", path, strings.TrimSpace(string(msg)))
	}
	return nil
}

// runServed is Run through the server, for a command whose output goes to
// buffers (or nowhere): output that a caller consumes while the command
// runs needs the ssh session's streams.
func (c *cmd) runServed(ctx context.Context) error {
	res, err := c.node.served.run(ctx, agent.RunSpec{Argv: c.Argv, Env: c.Env, Dir: c.Dir}, c.Stdin)
	if err != nil {
		return c.wrap(ctx, err, nil)
	}
	for _, o := range []struct {
		w    io.Writer
		data []byte
	}{{c.Stdout, res.Stdout}, {c.Stderr, res.Stderr}} {
		if o.w != nil {
			if _, err := o.w.Write(o.data); err != nil {
				return c.wrap(ctx, err, nil)
			}
		}
	}
	captured := append(append([]byte(nil), res.Stdout...), res.Stderr...)
	switch {
	case res.Error != "":
		return c.wrap(ctx, errors.New(res.Error), captured)
	case res.Exit != 0:
		return c.wrap(ctx, &exitError{res.Exit}, captured)
	}
	return nil
}

// servable says whether the command can go through the server: its
// output goes to buffers, not to a file on the node or a stream.
func (c *cmd) servable() bool {
	if c.node.served == nil || c.OutputFile != "" {
		return false
	}
	for _, w := range []io.Writer{c.Stdout, c.Stderr} {
		if _, isBuffer := w.(*bytes.Buffer); w != nil && !isBuffer {
			return false
		}
	}
	return true
}
