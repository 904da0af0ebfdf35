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
// everything below, deepest first; a cgroup that still holds a process
// makes rmdir fail, which is reported.
func removeCgroups(ctx context.Context, n node.Node, name string) error {
	script := `set -e
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
