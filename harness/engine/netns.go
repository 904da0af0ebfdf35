package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
)

// Netns is a named network namespace relapse made for its daemons, so that
// dockerd's and containerd's network setup (ip_forward, iptables, bridges)
// happens there and never on the host.
type Netns struct {
	Node node.Node
	Name string
}

// CreateNetns journals and creates a namespace with loopback up. The
// returned function deletes it and forgets the journal entry.
func CreateNetns(ctx context.Context, n node.Node, j *chaos.Journal, name string) (*Netns, func(context.Context) error, error) {
	forget, err := j.Record("netns", n.Name(), map[string]string{"name": name})
	if err != nil {
		return nil, nil, err
	}
	ns := &Netns{Node: n, Name: name}
	if err := n.Command("ip", "netns", "add", name).Run(ctx); err != nil {
		_ = forget()
		return nil, nil, fmt.Errorf("creating network namespace: %w", err)
	}
	if err := n.Command("ip", "-n", name, "link", "set", "lo", "up").Run(ctx); err != nil {
		_ = ns.delete(ctx)
		_ = forget()
		return nil, nil, err
	}
	return ns, func(ctx context.Context) error {
		if err := ns.delete(ctx); err != nil {
			return err
		}
		return forget()
	}, nil
}

func (ns *Netns) delete(ctx context.Context) error {
	if err := ns.KillMembers(ctx); err != nil {
		return err
	}
	return ns.Node.Command("ip", "netns", "delete", ns.Name).Run(ctx)
}

// KillMembers SIGKILLs every process living in the namespace, so nothing
// keeps it (and what a daemon set up in it) alive after its daemon is gone.
func (ns *Netns) KillMembers(ctx context.Context) error {
	// `ip netns pids` reads /proc/*/ns/net: it finds daemonised children too.
	for i := 0; i < 50; i++ {
		out, err := ns.Node.Command("ip", "netns", "pids", ns.Name).Output(ctx)
		if err != nil {
			return err
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				_ = ns.Node.Kill(ctx, pid, int(syscall.SIGKILL))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("processes in network namespace %s survive SIGKILL", ns.Name)
}

// Wrap prefixes argv so it runs inside the namespace. nsenter, not
// `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts the
// engines need ("Devices cgroup isn't mounted").
func (ns *Netns) Wrap(argv ...string) []string {
	return append([]string{"nsenter", "--net=/run/netns/" + ns.Name, "--"}, argv...)
}

func init() {
	chaos.RegisterLocalRepairer("netns", func(ctx context.Context, e chaos.Entry) (string, error) {
		ns := &Netns{Node: local.New(), Name: e.Data["name"]}
		if err := ns.delete(ctx); err != nil {
			return "", err
		}
		return "deleted network namespace " + ns.Name, nil
	})
}
