package provision

import (
	"context"
	"errors"
	"os"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/run"
)

// Local is the host relapse runs on.
type Local struct{}

func (Local) Name() string { return "local" }
func (Local) Describe() string {
	return "this host (kernel-level triggers change it for the run and are put back)"
}

func (Local) Check(_ context.Context, spec Spec) error {
	if spec.Kernel != "" || spec.Box != "" {
		return errors.New("the local provider runs on this host's own kernel: KERNEL and BOX need PROVIDER=qemu or PROVIDER=vagrant")
	}
	if spec.Systemd != "" {
		return errors.New("the local provider runs under this host's own init: SYSTEMD needs PROVIDER=qemu")
	}
	return nil
}

func (Local) Missing() []string {
	if os.Geteuid() != 0 {
		return []string{"root (euid 0): runc and /proc/sys writes need it; run with sudo"}
	}
	return nil
}

func (Local) Provision(context.Context, Spec, *run.Run) (node.Node, error) {
	return local.New(), nil
}

// Repairers: the local node is the host itself; what runs on it is
// repaired by the owners of each resource.
func (Local) Repairers() map[string]run.Repairer { return nil }
