package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
)

// A cluster on a VM node keeps its run directory on both machines at the
// same path: relapse writes certificates, kubeconfigs and CNI files on its
// own side and pushes them, and pulls what the node wrote (ledger,
// allocations) before reading it. Paths in every file are then right on
// both sides. On the local node both sides are the same directory and
// pushing and pulling do nothing.

// onNode reports whether n is another machine than the one relapse runs on.
func onNode(n node.Node) bool { return n.Provider() != "local" }

// pushTree copies the local directory dir to the same path on n.
func pushTree(ctx context.Context, n node.Node, dir string) error {
	if !onNode(n) {
		return nil
	}
	archive, err := exec.CommandContext(ctx, "tar", "-C", dir, "-cf", "-", ".").Output()
	if err != nil {
		return fmt.Errorf("packing %s for %s: %w", dir, n.Name(), err)
	}
	return n.Command("sh", "-c", `mkdir -p "$1" && tar -C "$1" -xf -`, "push", dir).SetStdin(bytes.NewReader(archive)).Run(ctx)
}

// pullTree copies the directory dir on n to the same local path.
func pullTree(ctx context.Context, n node.Node, dir string) error {
	if !onNode(n) {
		return nil
	}
	archive, err := n.Command("tar", "-C", dir, "-cf", "-", ".").Output(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	x := exec.CommandContext(ctx, "tar", "-C", dir, "-xf", "-")
	x.Stdin = bytes.NewReader(archive)
	if out, err := x.CombinedOutput(); err != nil {
		return fmt.Errorf("unpacking %s from %s: %w\n%s", dir, n.Name(), err, out)
	}
	return nil
}

// Pull makes the local copies of dirs (paths of the cluster's files) what
// they are on the node, so that they can be read with os.ReadFile. A
// directory inside another one named is fetched with it, not again.
func (c *Cluster) Pull(ctx context.Context, dirs ...string) error {
	for _, d := range dirs {
		if insideAny(d, dirs) {
			continue
		}
		if err := pullTree(ctx, c.Node, d); err != nil {
			return fmt.Errorf("fetching %s from node %s: %w", d, c.Node.Name(), err)
		}
	}
	return nil
}

// insideAny reports whether dir lies strictly below one of dirs.
func insideAny(dir string, dirs []string) bool {
	for _, o := range dirs {
		if rel, err := filepath.Rel(o, dir); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	return false
}

// Dial connects to an address where the cluster's node is (containerd's
// unix socket): directly on the local node, through the node's agent on a VM.
func (c *Cluster) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if !onNode(c.Node) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return agent.Dial(ctx, c.Node, nil, network, addr)
}

// clusterTools are the programs a bare cluster needs on its node besides
// the Kubernetes build and the runc under test.
var clusterTools = []string{"etcd", "/usr/lib/cni/bridge", "/usr/bin/containerd", "/usr/bin/ctr", "nsenter", "unshare"}

// checkNodeTools fails naming what the node lacks.
func checkNodeTools(ctx context.Context, n node.Node) error {
	out, err := n.Command("sh", append([]string{"-c", `for t; do command -v "$t" >/dev/null || echo "$t"; done`, "check"}, clusterTools...)...).Output(ctx)
	if err != nil {
		return fmt.Errorf("looking for the cluster's programs on %s: %w", n.Name(), err)
	}
	missing := strings.Fields(string(out))
	if len(missing) == 0 {
		return nil
	}
	if onNode(n) {
		return fmt.Errorf("node %s lacks %s: its root filesystem predates clusters on VM nodes (harness/vm RootfsPackages); it is rebuilt when the package list changes", n.Name(), strings.Join(missing, ", "))
	}
	return fmt.Errorf("bare clusters need %s (Debian packages etcd-server, containernetworking-plugins, containerd; `make deps-k8s`)", strings.Join(missing, ", "))
}

// mirrorRunDir makes the local side of a VM node's cluster directory,
// journaled so that a killed run's copy (its private keys among it) is
// removed by the next run.
func (b *Bare) mirrorRunDir() error {
	if !onNode(b.Node) {
		return nil
	}
	local := filepath.Dir(b.Dir)
	forget, err := b.env.Journal.Record("run-dir", "local", map[string]string{"path": local})
	if err != nil {
		return err
	}
	b.env.DeferCleanup("remove the local copy of the cluster's files "+local, func(context.Context) error {
		if err := os.RemoveAll(local); err != nil {
			return err
		}
		return forget()
	})
	return os.MkdirAll(b.Dir, 0o755)
}

// prefixed joins each name to dir.
func prefixed(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

// nodeBinaries are the Kubernetes binaries a VM node gets (kubectl for
// whoever logs in to look).
var nodeBinaries = []string{"kubelet", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"}

// useNodeBinaries points o at the node's copies of the Kubernetes build
// and the runc under test (the disk NodeDisks made), after checking the
// node has them.
func (b *Bare) useNodeBinaries(ctx context.Context, o *Options) error {
	bin, runc := NodeBinDir, filepath.Join(NodeBinDir, "runc")
	if err := b.Node.Command("test", "-x", filepath.Join(bin, "kubelet"), "-a", "-x", runc).Run(ctx); err != nil {
		return fmt.Errorf("node %s has no Kubernetes binaries in %s (the disk cluster scenarios give VM nodes): %w", b.Node.Name(), bin, err)
	}
	o.BinDir, o.Runc = bin, runc
	return nil
}

// socketForwarder is a node that can lead a socket path on it to a
// local socket (remote.Node: ssh -R).
type socketForwarder interface {
	ForwardSocket(ctx context.Context, nodeSocket, localSocket string) (func(context.Context) error, error)
}

// startCRIProxy puts relapse's CRI proxy between kubelet and containerd
// and returns the endpoint kubelet is to use. On a VM node the proxy still
// runs in relapse: kubelet reaches it through a forward of the same path,
// and it reaches containerd through the node's agent.
func (b *Bare) startCRIProxy(ctx context.Context) (string, error) {
	sock := b.path("containerd", "cri-proxy.sock")
	b.Proxy = &CRIProxy{Listen: sock, Upstream: b.ContainerdSocket}
	if onNode(b.Node) {
		b.Proxy.Dial = func(ctx context.Context, _ string) (net.Conn, error) {
			return b.Cluster.Dial(ctx, "unix", b.ContainerdSocket)
		}
	}
	if err := b.Proxy.Start(ctx); err != nil {
		return "", err
	}
	b.env.DeferCleanup("stop the CRI proxy", func(context.Context) error { b.Proxy.Stop(); return nil })
	if !onNode(b.Node) {
		return sock, nil
	}
	fw, ok := b.Node.(socketForwarder)
	if !ok {
		return "", fmt.Errorf("node %s cannot forward a socket to relapse's CRI proxy", b.Node.Name())
	}
	stop, err := fw.ForwardSocket(ctx, sock, sock)
	if err != nil {
		return "", err
	}
	b.env.DeferCleanup("stop forwarding "+sock+" on "+b.Node.Name()+" to the CRI proxy", stop)
	return sock, nil
}
