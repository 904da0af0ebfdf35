package kubernetes_test

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// cleanClusterHost, called in an Ordered container, reads the host before
// its first spec (the kernel parameters kubelet rewrites, ip_forward, and
// any extra keys the specs change) and checks after every spec and at the
// end that a cluster left none of it, nor anything else suitekit checks
// (secondary checks: a leftover is reported after the suite, and skips no
// verdict spec).
// The baseline is returned for specs that check more (VM leftovers).
func cleanClusterHost(extra ...string) *suitekit.HostBaseline {
	b := &suitekit.HostBaseline{}
	BeforeAll(func() {
		*b = suitekit.TakeBaseline(append(append([]string{"net.ipv4.ip_forward"}, cluster.KubeletSysctls...), extra...)...)
		DeferCleanup(func() { b.CheckClean() })
	})
	AfterEach(func() { b.CheckClean() })
	return b
}
