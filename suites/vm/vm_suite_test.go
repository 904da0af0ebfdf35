package vm_test

import (
	"testing"

	_ "github.com/relapse-dev/relapse/harness/scenarios"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The VM suite boots real qemu guests (software emulation here: ~15-40 s
// each) and Vagrant boxes through a private libvirtd; `make test-vm` runs
// it. Every spec that boots a node is labelled slow, so `make test` runs
// only the input checks.
func TestVMSuite(t *testing.T) {
	suitekit.RunRootSuite(t, "vm", "boots VMs and runs libvirtd in namespaces")
}
