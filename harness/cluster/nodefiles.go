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

// OnVM reports whether n is another machine than the one relapse runs on.
func OnVM(n node.Node) bool { return n.Provider() != "local" }

// PushTree copies the local directory dir to the same path on n.
func PushTree(ctx context.Context, n node.Node, dir string) error {
	if !OnVM(n) {
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
	if !OnVM(n) {
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
	if !OnVM(c.Node) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return agent.Dial(ctx, c.Node, nil, network, addr)
}
