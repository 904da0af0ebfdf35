package provision

import (
	"context"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/registry"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Spec is what the user asked of the node.
type Spec struct {
	// Provider names the backend ("local", "qemu", "vagrant").
	Provider string
	// Kernel is the guest kernel of a VM node (KERNEL=6.1.0-50, a bzImage path).
	Kernel string
	// KernelModules is the lib/modules/<release> directory of a user's own kernel.
	KernelModules string
	// KernelPatches are applied to a kernel built from Debian source
	// (Kernel "source:<version>", --patch linux=FILE).
	KernelPatches []versions.Patch
	// Systemd is "" for the root filesystem's own systemd, or
	// "source:<Debian version>" for systemd built from Debian source with
	// SystemdPatches (--patch systemd=FILE) in a root filesystem variant.
	Systemd        string
	SystemdPatches []versions.Patch
	// Box is the Vagrant box ("" = the one relapse builds offline).
	Box string
	// MemoryMiB and CPUs size a VM node (0 = the provider's default).
	MemoryMiB int
	CPUs      int
	// Disks are attached read-only and mounted (a scenario's, made from its
	// builds before the node boots); only the qemu provider takes them.
	Disks []NodeDisk
}

// NodeDisk is a read-only disk image a VM node gets attached and mounted
// (a cluster's binaries: hundreds of MB, which ssh into a nested VM
// carries at a few MB/s).
type NodeDisk struct {
	// Image is an ext4 file system image on the machine relapse runs on.
	Image string
	// MountPoint is where the node mounts it.
	MountPoint string
	// What says in the report what the disk holds.
	What string
}

// Provider makes nodes of one kind.
type Provider interface {
	Name() string
	// Describe is one line for `relapse repro -h` and error messages.
	Describe() string
	// Check validates the spec (versions, files, host tools) before
	// anything on the host changes; errors say what would be right.
	Check(ctx context.Context, spec Spec) error
	// Provision makes the node for one run. Everything it starts or
	// creates on this host is owned through r (journaled first, torn down
	// by a cleanup of the run); facts about how the node was made go to
	// r.NodeFact.
	Provision(ctx context.Context, spec Spec, r *run.Run) (node.Node, error)
	// Repairers undo, by journal kind, what a killed run's node left on
	// this host (a VM's process and directory); nil when nothing can be left.
	Repairers() map[string]run.Repairer
}

// Requirer is a provider with requirements of the machine relapse runs on
// (root for the local node); unmet ones make the run INCONCLUSIVE.
type Requirer interface {
	Missing() []string
}

// Set is a set of providers, looked up by name.
type Set = registry.Set[Provider]

// NewSet makes the set of providers a binary offers.
func NewSet(providers ...Provider) *Set { return registry.New("node provider", providers...) }

// Repairers merges the providers' repairers.
func Repairers(s *Set) map[string]run.Repairer {
	out := map[string]run.Repairer{}
	for _, p := range s.All() {
		for kind, r := range p.Repairers() {
			out[kind] = r
		}
	}
	return out
}
