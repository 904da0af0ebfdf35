package engine

import (
	"context"
	"fmt"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
)

// CgroupParent journals a top-level cgroup name an engine puts its
// containers under, and returns the function that removes it (in every v1
// hierarchy and in the unified one) and forgets it.
func CgroupParent(n node.Node, j *chaos.Journal, name string) (func(context.Context) error, error) {
	forget, err := j.Record("cgroup", n.Name(), map[string]string{"name": name})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := removeCgroups(ctx, n, name); err != nil {
			return err
		}
		return forget()
	}, nil
}

// removeCgroups removes /sys/fs/cgroup/*/NAME and /sys/fs/cgroup/NAME with
// everything below, deepest first. Processes still inside are killed
// first: a container whose shim was killed is reparented to PID 1 and
// found by nothing else (its pod has a network namespace of its own). A
// cgroup that still holds a process after that makes rmdir fail, which is
// reported.
func removeCgroups(ctx context.Context, n node.Node, name string) error {
	script := `set -e
for i in $(seq 1 50); do
  pids=$(cat /sys/fs/cgroup/*/"$1"/cgroup.procs /sys/fs/cgroup/*/"$1"/*/cgroup.procs /sys/fs/cgroup/*/"$1"/*/*/cgroup.procs     /sys/fs/cgroup/*/"$1"/*/*/*/cgroup.procs /sys/fs/cgroup/*/"$1"/*/*/*/*/cgroup.procs /sys/fs/cgroup/"$1"/cgroup.procs 2>/dev/null | sort -u)
  [ -z "$pids" ] && break
  kill -9 $pids 2>/dev/null || true
  sleep 0.1
done
for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
  [ -d "$d" ] || continue
  find "$d" -depth -type d -exec rmdir {} +
done`
	if err := n.Command("sh", "-c", script, "sh", name).Run(ctx); err != nil {
		return fmt.Errorf("removing cgroup %s: %w", name, err)
	}
	return nil
}

func init() {
	chaos.RegisterLocalRepairer("cgroup", func(ctx context.Context, e chaos.Entry) (string, error) {
		if err := removeCgroups(ctx, local.New(), e.Data["name"]); err != nil {
			return "", err
		}
		return "removed cgroup " + e.Data["name"], nil
	})
}
