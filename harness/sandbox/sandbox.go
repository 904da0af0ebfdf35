package sandbox

import (
	"context"

	"github.com/relapse-dev/relapse/harness/run"
)

// Sandbox is a network namespace and a cgroup parent of one name, for an
// engine a run starts.
type Sandbox struct {
	Netns *Netns
	// Cgroup is the cgroup parent's name, relative to each hierarchy's root.
	Cgroup string
}

// New makes the sandbox "relapse-<run>" (or prefix-<run>) on the run's node.
func New(ctx context.Context, r *run.Run, prefix string) (*Sandbox, error) {
	if prefix == "" {
		prefix = "relapse"
	}
	name := prefix + "-" + r.Short()
	ns, err := NewNetns(ctx, r, name)
	if err != nil {
		return nil, err
	}
	if err := CgroupParent(ctx, r, name); err != nil {
		return nil, err
	}
	return &Sandbox{Netns: ns, Cgroup: name}, nil
}
