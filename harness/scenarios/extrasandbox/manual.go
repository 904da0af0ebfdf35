package extrasandbox

import (
	"fmt"
	"strings"
)

// manualSteps is what a maintainer can run against any cluster of the
// affected version (kubectl and crictl on the node).
func manualSteps(version string, jobs int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# kubernetes#92613 by hand, on a node running kubelet %s with containerd.", version)
	w("for i in $(seq -w 0 %d); do", jobs-1)
	w("  kubectl create job relapse-hello-$i --image=busybox -- sh -c 'date; echo Hello'")
	w("  kubectl patch job relapse-hello-$i --type=json -p='[{\"op\":\"replace\",\"path\":\"/spec/template/spec/restartPolicy\",\"value\":\"OnFailure\"}]' 2>/dev/null || true")
	w("  sleep 2")
	w("done")
	w("# (kubectl create job makes restartPolicy Never in some versions: write the Job YAML with OnFailure if the patch is refused)")
	w("kubectl wait --for=condition=complete job --all --timeout=5m; sleep 45")
	w("# Affected: completed pods have two sandboxes (attempt 0 and 1) and two CNI ADDs:")
	w("crictl pods --label relapse=hello -o json | jq -r '.items[] | .metadata.uid + \" \" + (.metadata.attempt|tostring)' | sort | uniq -c -w 36")
	w("journalctl -u kubelet | grep 'No ready sandbox for pod can be found. Need to start a new one'")
	return b.String()
}
