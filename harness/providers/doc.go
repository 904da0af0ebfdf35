// Package providers links every node provider into a binary; import it for
// its side effects (as cmd/relapse and the suites do).
package providers

import (
	_ "github.com/relapse-dev/relapse/harness/node/qemu"
	_ "github.com/relapse-dev/relapse/harness/node/vagrant"
	_ "github.com/relapse-dev/relapse/harness/provision"
)
