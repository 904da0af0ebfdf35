package bare

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/run"
)

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
	if cluster.OnVM(n) {
		return fmt.Errorf("node %s lacks %s: its root filesystem predates clusters on VM nodes (harness/vm RootfsPackages); it is rebuilt when the package list changes", n.Name(), strings.Join(missing, ", "))
	}
	return fmt.Errorf("bare clusters need %s (Debian packages etcd-server, containernetworking-plugins, containerd; `make deps-k8s`)", strings.Join(missing, ", "))
}

// mirrorRunDir makes the local side of a VM node's cluster directory,
// journaled so that a killed run's copy (its private keys among it) is
// removed by the next run.
func (b *Bare) mirrorRunDir() error {
	if !cluster.OnVM(b.Node) {
		return nil
	}
	local := filepath.Dir(b.Dir)
	if _, err := b.env.OwnLocal(context.Background(), "remove the local copy of the cluster's files "+local, "run-dir",
		map[string]string{"path": local}, nil, func(context.Context) error { return run.RemoveDir(local) }); err != nil {
		return err
	}
	// The same path as on the node, in a private run directory here too.
	return run.MakeLocalDir(b.Dir)
}

// prefixed joins each name to dir.
func prefixed(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

// NodeBinaries are the Kubernetes binaries a VM node gets (kubectl for
// whoever logs in to look).
var NodeBinaries = []string{"kubelet", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"}

// useNodeBinaries points o at the node's copies of the Kubernetes build,
// the runc under test and the containerd build (the disk NodeDisks made),
// after checking the node has them.
func (b *Bare) useNodeBinaries(ctx context.Context, o *cluster.Options) error {
	bin, runc := cluster.NodeBinDir, filepath.Join(cluster.NodeBinDir, "runc")
	if err := b.Node.Command("test", "-x", filepath.Join(bin, "kubelet"), "-a", "-x", runc).Run(ctx); err != nil {
		return fmt.Errorf("node %s has no Kubernetes binaries in %s (the disk cluster scenarios give VM nodes): %w", b.Node.Name(), bin, err)
	}
	o.BinDir, o.Runc = bin, runc
	if o.ContainerdDir != "" {
		if err := b.Node.Command("test", "-x", filepath.Join(bin, "containerd")).Run(ctx); err != nil {
			return fmt.Errorf("node %s has no containerd %s in %s (the disk cluster scenarios give VM nodes): %w", b.Node.Name(), o.ContainerdVersion, bin, err)
		}
		o.ContainerdDir = bin
	}
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
	b.Proxy = &cluster.CRIProxy{Listen: sock, Upstream: b.ContainerdSocket}
	if cluster.OnVM(b.Node) {
		b.Proxy.Dial = func(ctx context.Context, _ string) (net.Conn, error) {
			return b.Dial(ctx, "unix", b.ContainerdSocket)
		}
	}
	if err := b.Proxy.Start(ctx); err != nil {
		return "", err
	}
	b.env.DeferCleanup("stop the CRI proxy", func(context.Context) error { b.Proxy.Stop(); return nil })
	if !cluster.OnVM(b.Node) {
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
