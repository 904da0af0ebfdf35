package daemons

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/containerd/containerd"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"
	ptypes "github.com/containerd/containerd/protobuf/types"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/versions"
)

// ContainerdNamespace is the containerd namespace relapse's containers live in.
const ContainerdNamespace = "relapse"

// Containerd is a containerd relapse runs, with its Go client.
type Containerd struct {
	*sandbox.Daemon
	Client *containerd.Client
	// BinDir holds containerd, containerd-shim-runc-v2 and ctr of one version.
	BinDir string
	// Runc is the runc under test, passed to the shim as BinaryName.
	Runc string
	// Metrics is the metrics address inside the daemon's network namespace.
	Metrics string
	// DebugSocket serves pprof (goroutine dumps) over a unix socket.
	DebugSocket string
	// ConfigVersion is the config layout the daemon was given (its own
	// default version).
	ConfigVersion int
}

// ContainerdOptions chooses what a relapse containerd uses.
type ContainerdOptions struct {
	// BinDir holds the containerd binaries ("/usr/bin" for Debian's).
	BinDir string
	Runc   string
	// Metrics, when set, enables the Prometheus endpoint (e.g. 127.0.0.1:1338).
	Metrics string
	// ConfigVersion is the config layout to write; 0 asks the binary
	// (ContainerdConfigVersion).
	ConfigVersion int
	// CRI, when set, turns the CRI service on with these tables
	// (ContainerdConfig.CRI).
	CRI string
	// Dial, when set, connects the client to the daemon's socket: a VM
	// node's socket cannot be dialed from here directly (agent.Dial
	// reaches it through the node's agent).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// StartContainerd starts containerd with private root, state and sockets
// under dir, no CRI service, in ns, with a config in the layout the binary
// itself writes (ContainerdConfig); the shim it starts is the one in BinDir.
func StartContainerd(ctx context.Context, n node.Node, j *run.Journal, dir string, ns *sandbox.Netns, o ContainerdOptions) (*Containerd, func(context.Context) error, error) {
	c := &Containerd{BinDir: o.BinDir, Runc: o.Runc, Metrics: o.Metrics, DebugSocket: filepath.Join(dir, "debug.sock")}
	sock := filepath.Join(dir, "containerd.sock")
	if o.ConfigVersion == 0 {
		var err error
		if o.ConfigVersion, err = ContainerdConfigVersion(ctx, n, o.BinDir); err != nil {
			return nil, nil, err
		}
	}
	c.ConfigVersion = o.ConfigVersion
	config, err := ContainerdConfig{Version: o.ConfigVersion, Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state"),
		GRPC: sock, Debug: c.DebugSocket, Metrics: o.Metrics, CRI: o.CRI}.Render()
	if err != nil {
		return nil, nil, fmt.Errorf("containerd in %s: %w", o.BinDir, err)
	}
	if err := n.WriteFile(ctx, filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		return nil, nil, err
	}
	c.Daemon = &sandbox.Daemon{Node: n, Name: "containerd", Dir: dir, Netns: ns, Socket: sock, Log: filepath.Join(dir, "containerd.log"),
		Argv: []string{filepath.Join(o.BinDir, "containerd"), "--config", filepath.Join(dir, "config.toml")},
		// The shim is found on PATH: put this version's first.
		Env: []string{"PATH=" + o.BinDir + ":" + os.Getenv("PATH")}}
	stop, err := c.Daemon.Start(ctx, j, 60*time.Second)
	if err != nil {
		return nil, nil, err
	}
	clientOpts := []containerd.ClientOpt{containerd.WithDefaultNamespace(ContainerdNamespace), containerd.WithTimeout(30 * time.Second)}
	if o.Dial != nil {
		// Dial options replace the client's own: plain text (a unix
		// socket) and the node's way to the socket. Not blocking: the
		// socket is there (Start waited for it), and the first call
		// says what failed.
		clientOpts = append(clientOpts, containerd.WithDialOpts([]grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return o.Dial(ctx, "unix", sock) })}))
	}
	c.Client, err = containerd.New(sock, clientOpts...)
	if err != nil {
		_ = stop(context.WithoutCancel(ctx))
		return nil, nil, fmt.Errorf("containerd client: %w", err)
	}
	return c, func(ctx context.Context) error {
		c.Client.Close()
		return stop(ctx)
	}, nil
}

// Version asks the daemon for its version.
func (c *Containerd) Version(ctx context.Context) (string, error) {
	v, err := c.Client.Version(ctx)
	if err != nil {
		return "", err
	}
	return v.Version + " (" + v.Revision + ")", nil
}

// Deprecations lists the deprecation warnings the daemon has raised since
// it started ("ID: message"), as `ctr deprecations list` shows them; a
// daemon before 1.7 reports none.
func (c *Containerd) Deprecations(ctx context.Context) ([]string, error) {
	resp, err := c.Client.IntrospectionService().Server(ctx, &ptypes.Empty{})
	if err != nil {
		return nil, fmt.Errorf("asking containerd for its deprecation warnings: %w", err)
	}
	var out []string
	for _, d := range resp.Deprecations {
		out = append(out, d.ID+": "+d.Message)
	}
	return out, nil
}

// ConfigReport says which config layout the daemon got and what it
// warned about, for the report: a layout it had to migrate or a setting it
// deprecates would show here.
func (c *Containerd) ConfigReport(ctx context.Context) string {
	what := fmt.Sprintf("config version %d (the layout `containerd config default` of this build writes)", c.ConfigVersion)
	if log, err := c.Node.ReadFile(ctx, c.Log); err != nil {
		what += "; its log could not be read: " + err.Error()
	} else if complaints := ConfigComplaints(string(log)); len(complaints) > 0 {
		what += "; it complained about the config: " + strings.Join(complaints, "; ")
	} else {
		what += "; read without a migration or unknown-key warning"
	}
	warnings, err := c.Deprecations(ctx)
	switch {
	case err != nil:
		return what + "; " + err.Error()
	case len(warnings) == 0:
		return what + "; no deprecation warnings"
	}
	return what + "; deprecation warnings: " + strings.Join(warnings, "; ")
}

// configComplaint matches what containerd logs about a config it had to
// convert or did not understand.
var configComplaint = regexp.MustCompile(`Configuration migrated from version|Ignoring unknown key|Ambiguous .* plugin in v1 config`)

// ConfigComplaints picks containerd's log lines about its config file.
func ConfigComplaints(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if configComplaint.MatchString(line) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// RuntimeReport says how containerd runs a started container's task: the
// runtime the container names and the shim process serving it, whose
// binary should be this version's containerd-shim-runc-v2 (a
// distribution's shim earlier on PATH would otherwise win unseen).
func (c *Containerd) RuntimeReport(ctx context.Context, ctr containerd.Container) string {
	info, err := ctr.Info(ctx)
	if err != nil {
		return "container info: " + err.Error()
	}
	what := "runtime " + info.Runtime.Name
	procs, err := c.Node.Processes(ctx)
	if err != nil {
		return what + "; processes: " + err.Error()
	}
	shims := evidence.Matching(func(p evidence.Process) bool {
		return strings.HasPrefix(p.Comm, "containerd-shim") && len(p.Cmdline) > 0
	})(evidence.ProcessesUnder(procs, c.Dir))
	if len(shims) == 0 {
		return what + "; no containerd-shim process found under " + c.Dir
	}
	shim := shims[0].Cmdline[0]
	if filepath.Dir(shim) != filepath.Clean(c.BinDir) {
		return fmt.Sprintf("%s; shim %s is NOT this containerd's (%s)", what, shim, c.BinDir)
	}
	return fmt.Sprintf("%s; shim %s (pid %d, %d shim process(es))", what, shim, shims[0].PID, len(shims))
}

// NewContainer creates a container on a root filesystem directory (no
// image, no snapshot), running the runc under test.
func (c *Containerd) NewContainer(ctx context.Context, id, rootfs string, specOpts ...oci.SpecOpts) (containerd.Container, error) {
	opts := append([]oci.SpecOpts{oci.WithRootFSPath(rootfs), oci.WithRootFSReadonly(), oci.WithProcessArgs("/init")}, specOpts...)
	return c.Client.NewContainer(ctx, id,
		containerd.WithNewSpec(opts...),
		containerd.WithRuntime("io.containerd.runc.v2", &runcoptions.Options{BinaryName: c.Runc}))
}

// Start creates the task (runc create) and starts it (runc start), each
// bounded by ctx, and returns the task. Output goes to logPath.
func (c *Containerd) Start(ctx context.Context, ctr containerd.Container, logPath string) (containerd.Task, error) {
	task, err := ctr.NewTask(ctx, cio.LogFile(logPath))
	if err != nil {
		return nil, fmt.Errorf("creating task %s: %w", ctr.ID(), err)
	}
	if err := task.Start(ctx); err != nil {
		return task, fmt.Errorf("starting task %s: %w", ctr.ID(), err)
	}
	return task, nil
}

// RemoveAll kills and deletes every task and container, bounded by ctx.
func (c *Containerd) RemoveAll(ctx context.Context) error {
	list, err := c.Client.Containers(ctx)
	if err != nil {
		return err
	}
	var errs []string
	for _, ctr := range list {
		if task, err := ctr.Task(ctx, nil); err == nil {
			_ = task.Kill(ctx, unix.SIGKILL)
			if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if err := ctr.Delete(ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("removing containers: %s", strings.Join(errs, "; "))
	}
	return nil
}

// GoroutineDump fetches all goroutine stacks from the debug socket's pprof
// endpoint: the evidence maintainers ask for when containerd is stuck.
func (c *Containerd) GoroutineDump(ctx context.Context) (string, error) {
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", c.DebugSocket)
	}}}
	return httpGet(ctx, hc, "http://containerd/debug/pprof/goroutine?debug=2")
}

// MetricsClient is an HTTP client whose connections are made inside the
// daemon's network namespace, where the metrics address listens.
func (c *Containerd) MetricsClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: c.Netns.DialContext, DisableKeepAlives: false}}
}

// ScrapeMetrics GETs /v1/metrics once.
func (c *Containerd) ScrapeMetrics(ctx context.Context, hc *http.Client) error {
	_, err := httpGet(ctx, hc, "http://"+c.Metrics+"/v1/metrics")
	return err
}

func httpGet(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// CopyContainerdIn copies a containerd build's binaries (a ContainerdRecipe
// artifact's directory on this machine) into dir on the node, where
// StartContainerd takes them as BinDir: a VM node has none of this
// machine's cache, and on any node the daemon and its shims then name the
// run's directory.
func CopyContainerdIn(ctx context.Context, n node.Node, build, dir string) error {
	for name := range versions.ContainerdRecipe.Binaries {
		if err := n.CopyIn(ctx, filepath.Join(build, name), filepath.Join(dir, name), 0o755); err != nil {
			return fmt.Errorf("copying %s onto %s: %w", name, n.Name(), err)
		}
	}
	return nil
}
