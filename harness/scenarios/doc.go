// Package scenarios links every scenario into a binary: import it for its
// side effect of registering them all with harness/scenario, and the
// cluster providers beyond bare (kind) the cluster scenarios can choose.
package scenarios

import (
	_ "github.com/relapse-dev/relapse/harness/cluster/kind"
	_ "github.com/relapse-dev/relapse/harness/scenarios/containerdmetrics"
	_ "github.com/relapse-dev/relapse/harness/scenarios/extrasandbox"
	_ "github.com/relapse-dev/relapse/harness/scenarios/plegnotready"
	_ "github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	_ "github.com/relapse-dev/relapse/harness/scenarios/runcpipehangk8s"
	_ "github.com/relapse-dev/relapse/harness/scenarios/systemdcookie"
)
