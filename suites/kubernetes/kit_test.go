package kubernetes_test

import (
	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The specs of every kubelet bug declared with the kit (harness/kit),
// derived from its declaration (suitekit.KitBugs): a cluster each, slow.
// The host check compares the kernel parameters kubelet rewrites too.
var _ = suitekit.KitBugs("kubernetes", append([]string{"net.ipv4.ip_forward"}, cluster.KubeletSysctls...)...)
