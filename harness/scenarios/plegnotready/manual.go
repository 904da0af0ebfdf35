package plegnotready

import (
	"fmt"
	"strings"
)

// manualSteps: the stall needs something between kubelet and the runtime
// that holds only the relist calls; relapse's CRI proxy is that thing.
func manualSteps(version, methods, stall string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# PLEG not healthy by hand, kubelet %s: hold %s for %s while Status answers.", version, methods, stall)
	w("# relapse's CRI proxy (harness/cluster.CRIProxy) sits on the CRI socket kubelet uses and forwards every")
	w("# call to containerd except the held ones. Without it, a stuck runtime does the same: runc rc93 with")
	w("# fs.pipe-user-pages-soft=1 (containerd#5261) or containerd 1.6.2 under metrics scrapes (containerd#6772).")
	w("kubectl get node -w -o custom-columns=NAME:.metadata.name,READY:.status.conditions[-1].status,MSG:.status.conditions[-1].message")
	w("# after 3 minutes: READY False, \"PLEG is not healthy: pleg was last seen active 3m0.Xs ago; threshold is 3m0s\"")
	w("kubectl get --raw /api/v1/nodes/$(hostname)/proxy/metrics | grep kubelet_pleg_")
	return b.String()
}
