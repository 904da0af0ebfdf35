package vm_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	_ "github.com/relapse-dev/relapse/harness/providers"
	_ "github.com/relapse-dev/relapse/harness/scenarios"
)

// The VM suite boots real qemu guests (software emulation here: ~15-40 s
// each) and Vagrant boxes through a private libvirtd; `make test-vm` runs
// it. Every spec is labelled slow, so `make test` leaves it out.
func TestVMSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	if os.Geteuid() != 0 {
		t.Skip("the VM suite boots VMs and runs libvirtd in namespaces: it needs root")
	}
	RunSpecs(t, "vm")
}
