package containerd_test

import (
	"testing"

	_ "github.com/relapse-dev/relapse/harness/scenarios"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

func TestContainerdSuite(t *testing.T) {
	suitekit.RunRootSuite(t, "containerd", "runs real daemons and containers")
}
