package runc_test

import (
	"testing"

	_ "github.com/relapse-dev/relapse/harness/scenarios"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

func TestRuncSuite(t *testing.T) {
	suitekit.RunRootSuite(t, "runc", "runs real containers and changes sysctls")
}
