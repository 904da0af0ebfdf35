package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/vm"
)

// HostKeyAlias is the name a node's host keys are pinned under in its
// known_hosts file, whatever address and port it is reached on.
const HostKeyAlias = "relapse-vm-node"

// PinHostKeys writes dir/ssh/known_hosts with the host keys the root
// filesystem was built with (every node of an image, of a snapshot of it
// and of a Vagrant box made of it has them) and returns its path: ssh
// then talks to that guest only.
func PinHostKeys(dir string, r vm.Rootfs) (string, error) {
	keys, err := r.HostKeys()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", HostKeyAlias, k)
	}
	path := filepath.Join(dir, "ssh", "known_hosts")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("pinning the node's host keys: %w", err)
	}
	return path, nil
}

// forwardTimeout bounds qemu's start up to its monitor's answer; it sets
// up the forwarded port before its main loop answers.
const forwardTimeout = time.Minute

// startForwarded starts qemu (args from qemuArgs, files as descriptors 3,
// ...) and returns the host port its user network forwards to the guest's
// ssh, as qemu reports it: it asked the kernel for a free one (port 0) as
// it bound, so the port is qemu's from the start.
func (m *machine) startForwarded(ctx context.Context, args []string, files ...*os.File) (int, error) {
	var passed []*os.File
	for _, f := range files {
		if f != nil {
			passed = append(passed, f)
		}
	}
	if err := m.start(args, passed...); err != nil {
		return 0, err
	}
	fctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	var port int
	err := m.untilExit(fctx, func(ctx context.Context) error {
		mon, err := dialMonitor(ctx, monitorPath(m.dir))
		if err != nil {
			return err
		}
		defer mon.conn.Close()
		out, err := mon.send("info usernet")
		if err != nil {
			return fmt.Errorf("qemu monitor info usernet: %w", err)
		}
		port, err = forwardedPort(out)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("the port qemu forwards to the guest's ssh: %w", err)
	}
	return port, nil
}

// forwardedPort reads the host port of the forward to guest port 22 from
// the monitor's `info usernet` (whose echo of the command comes first):
//
//	TCP[HOST_FORWARD]   8       127.0.0.1 37347       10.0.2.15    22     0     0
func forwardedPort(usernet string) (int, error) {
	for _, line := range strings.Split(usernet, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != "TCP[HOST_FORWARD]" || f[5] != "22" {
			continue
		}
		port, err := strconv.Atoi(f[3])
		if err != nil || port <= 0 || port > 65535 {
			return 0, fmt.Errorf("qemu reports host port %q for the guest's ssh", f[3])
		}
		return port, nil
	}
	return 0, fmt.Errorf("qemu reports no forward to the guest's port 22:\n%s", strings.TrimSpace(usernet))
}
