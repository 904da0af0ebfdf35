package runc_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	_ "github.com/relapse-dev/relapse/harness/scenarios"
)

func TestRuncSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	if os.Geteuid() != 0 {
		t.Skip("the runc suite runs real containers and changes sysctls: it needs root")
	}
	RunSpecs(t, "runc")
}
