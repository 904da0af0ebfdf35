package sandbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/run"
)

// CgroupParent owns a top-level cgroup name an engine puts its containers
// under: journaled now (the engine creates it), removed in every v1
// hierarchy and in the unified one by a cleanup of the run.
func CgroupParent(ctx context.Context, r *run.Run, name string) error {
	// Checked before it is made: removeCgroups refuses any other name.
	if err := run.CheckName("make the cgroup parent", name); err != nil {
		return err
	}
	n := r.Node
	_, err := r.Own(ctx, "remove cgroup "+name, "cgroup", map[string]string{"name": name}, nil,
		func(ctx context.Context) error { return removeCgroups(ctx, n, name) })
	return err
}

// removeCgroups removes /sys/fs/cgroup/*/NAME (v1) and /sys/fs/cgroup/NAME
// (v2, or v1's unified hierarchy) with everything below, deepest first. Processes still inside are killed
// first: a container whose shim was killed is reparented to PID 1 and
// found by nothing else (its pod has a network namespace of its own). A
// cgroup that still holds a process after that makes rmdir fail, which is
// reported. Only a name relapse gives passes: an empty one would select
// every process under /sys/fs/cgroup.
func removeCgroups(ctx context.Context, n node.Node, name string) error {
	if err := run.CheckName("remove the cgroup", name); err != nil {
		return err
	}
	script := `set -e
for i in $(seq 1 50); do
  pids=$(find /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
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

// EnableRootControllers makes every controller of a cgroup v2 root
// available to its children (a VM node's systemd enables only memory,
// pids and io; kubelet refuses a cgroup root without cpu, cpuset and
// hugetlb). The run owns what it added: a cleanup takes those back. On
// cgroup v1 it does nothing.
func EnableRootControllers(ctx context.Context, r *run.Run) error {
	n := r.Node
	out, err := n.Command("sh", "-c", `f=/sys/fs/cgroup/cgroup.subtree_control
[ -e "$f" ] || exit 0
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  grep -qw "$c" "$f" || echo "$c"
done`).Output(ctx)
	if err != nil {
		return fmt.Errorf("reading the cgroup root's controllers on %s: %w", n.Name(), err)
	}
	added := strings.Fields(string(out))
	if len(added) == 0 {
		return nil
	}
	_, err = r.Own(ctx, "take back the cgroup root's controllers "+strings.Join(added, " "), "cgroup-controllers",
		map[string]string{"added": strings.Join(added, " ")},
		func(ctx context.Context) error { return setRootControllers(ctx, n, "+", added) },
		func(ctx context.Context) error { return setRootControllers(ctx, n, "-", added) })
	return err
}

// setRootControllers writes +c or -c for each controller, one at a time
// (a controller another one depends on is refused in the same write).
// Taking one back is retried for 10 s: the kernel refuses while removed
// child cgroups that used it are still being released.
func setRootControllers(ctx context.Context, n node.Node, sign string, controllers []string) error {
	script := `s=$1; shift; f=/sys/fs/cgroup/cgroup.subtree_control
for c; do
  i=0
  until echo "$s$c" 2>/dev/null > $f; do
    i=$((i+1)); [ $i -lt 50 ] || { echo "$s$c" > $f; exit 1; }
    sleep 0.2
  done
done`
	if err := n.Command("sh", append([]string{"-c", script, "sh", sign}, controllers...)...).Run(ctx); err != nil {
		return fmt.Errorf("writing %s%s to the cgroup root's subtree_control on %s: %w", sign, strings.Join(controllers, " "+sign), n.Name(), err)
	}
	return nil
}

func init() {
	run.RegisterLocalRepairer("cgroup-controllers", func(ctx context.Context, e run.Entry) (string, error) {
		added := strings.Fields(e.Data["added"])
		if len(added) == 0 {
			return "", fmt.Errorf("refusing to take back the cgroup root's controllers: the entry names none")
		}
		for _, c := range added {
			// A controller is one entry of /sys/fs/cgroup/cgroup.controllers.
			if _, err := run.CheckChild("take back the cgroup root's controller", "/sys/fs/cgroup/"+c, "/sys/fs/cgroup"); err != nil {
				return "", err
			}
		}
		if err := setRootControllers(ctx, local.New(), "-", added); err != nil {
			return "", err
		}
		return "took back the cgroup root's controllers " + e.Data["added"], nil
	})
	run.RegisterLocalRepairer("cgroup", func(ctx context.Context, e run.Entry) (string, error) {
		if err := removeCgroups(ctx, local.New(), e.Data["name"]); err != nil {
			return "", err
		}
		return "removed cgroup " + e.Data["name"], nil
	})
}
