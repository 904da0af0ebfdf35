package containerd_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	_ "github.com/relapse-dev/relapse/harness/scenarios"
)

func TestContainerdSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	if os.Geteuid() != 0 {
		t.Skip("the containerd suite runs real daemons and containers: it needs root")
	}
	RunSpecs(t, "containerd")
}
