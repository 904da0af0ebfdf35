package containerdmetrics

import (
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/versions"
)

// manualSteps is the shell script a maintainer can paste, as root, to see
// the deadlock without relapse (in a throw-away network namespace).
func manualSteps(ctrd, runc versions.Artifact, scrapers, concurrency, tasks int) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# containerd#6772 by hand, as root: containerd %s (%s), runc %s (%s).", ctrd.Version, ctrd.Sum, runc.Version, runc.Sum)
	p("mkdir -p /tmp/ctrd-6772 && cd /tmp/ctrd-6772")
	p("%s", ctrd.BuildCommand)
	p("%s", runc.BuildCommand)
	p("# Any static binary that keeps running works as the container's init.")
	p("mkdir -p rootfs/proc rootfs/dev rootfs/sys rootfs/tmp rootfs/etc && cp /path/to/static/init rootfs/init")
	p("cat > config.toml <<EOF")
	p("version = 2")
	p("root = \"$PWD/root\"")
	p("state = \"$PWD/state\"")
	p("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]")
	p("[grpc]\n  address = \"$PWD/c.sock\"")
	p("[ttrpc]\n  address = \"$PWD/c.sock.ttrpc\"")
	p("[debug]\n  address = \"$PWD/debug.sock\"")
	p("[metrics]\n  address = \"%s\"", metricsAddress)
	p("EOF")
	p("ip netns add ctrd-6772 && ip -n ctrd-6772 link set lo up")
	p("nsenter --net=/run/netns/ctrd-6772 env PATH=$PWD:$PATH ./containerd --config config.toml >containerd.log 2>&1 &")
	p("sleep 2")
	p("# %d scrape loops: one alone almost never loses the race.", scrapers)
	p("for i in $(seq %d); do nsenter --net=/run/netns/ctrd-6772 sh -c 'while :; do curl -s -m 5 http://%s/v1/metrics >/dev/null; done' & done", scrapers, metricsAddress)
	p("seq %d | xargs -P %d -I{} timeout 20 ./ctr -a $PWD/c.sock -n relapse run -d --null-io --runc-binary $PWD/runc --rootfs $PWD/rootfs c{} /init", tasks, concurrency)
	p("# exit 124 from timeout = a create that never returned. Then:")
	p("pgrep -f 'runc init' | while read pid; do cat /proc/$pid/wchan; echo; ls -l /proc/$pid/fd | grep exec.fifo; done")
	p("curl -s --unix-socket $PWD/debug.sock 'http://x/debug/pprof/goroutine?debug=2' | grep -B3 -A12 'Collector).Add'")
	p("")
	p("# Put the host back: kill everything started above, then")
	p("kill $(jobs -p); pkill -f 'containerd-shim-runc-v2 .*c.sock'; pkill -f $PWD/containerd; ip netns delete ctrd-6772")
	return b.String()
}
