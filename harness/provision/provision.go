package provision

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Spec is what the user asked of the node.
type Spec struct {
	// Provider names the backend ("local", "qemu", "vagrant").
	Provider string
	// Kernel is the guest kernel of a VM node (KERNEL=6.1.0-50, a bzImage path).
	Kernel string
	// KernelModules is the lib/modules/<release> directory of a user's own kernel.
	KernelModules string
	// Box is the Vagrant box ("" = the one relapse builds offline).
	Box string
	// MemoryMiB and CPUs size a VM node (0 = the provider's default).
	MemoryMiB int
	CPUs      int
	// Disks are attached read-only and mounted (the scenario's, see
	// scenario.DiskProvider); only the qemu provider takes them.
	Disks []scenario.NodeDisk
}

// Provider makes nodes of one kind.
type Provider interface {
	Name() string
	// Describe is one line for `relapse providers` and error messages.
	Describe() string
	// Check validates the spec (versions, files, host tools) before
	// anything on the host changes; errors say what would be right.
	Check(ctx context.Context, spec Spec) error
	// Provision makes the node for one run. Everything it starts or
	// creates is journaled in env.Journal first and torn down by a cleanup
	// it registers with env.DeferCleanup; facts about how the node was made
	// go to env.Report.NodeSetup.
	Provision(ctx context.Context, spec Spec, env *scenario.Env) (node.Node, error)
}

// Requirer is a provider with requirements of the machine relapse runs on
// (root for the local node); unmet ones make the run INCONCLUSIVE.
type Requirer interface {
	Missing() []string
}

var (
	mu        sync.Mutex
	providers = map[string]Provider{}
)

// Register adds a provider; provider packages call it from init.
func Register(p Provider) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := providers[p.Name()]; dup {
		panic("provider registered twice: " + p.Name())
	}
	providers[p.Name()] = p
}

// Lookup finds a provider; the error lists the known ones.
func Lookup(name string) (Provider, error) {
	if name == "" {
		name = "local"
	}
	mu.Lock()
	defer mu.Unlock()
	if p, ok := providers[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("unknown node provider %q: known providers are\n%s", name, describeLocked())
}

// Names lists the registered providers.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	var names []string
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe lists the providers with one line each.
func Describe() string {
	mu.Lock()
	defer mu.Unlock()
	return describeLocked()
}

func describeLocked() string {
	var names []string
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, providers[n].Describe())
	}
	return b.String()
}
