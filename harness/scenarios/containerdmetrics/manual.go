package containerdmetrics

import (
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/versions"
)

// manualSteps is the portable reproducer: a POSIX shell script that runs
// alone in an empty directory as root. It builds (or takes) containerd and
// runc, makes the root filesystem from the machine's own sh and sleep,
// runs containerd in a network namespace of its own, scrapes its metrics
// while creating tasks, decides from /proc and the goroutine dump, and on
// exit (also Ctrl-C) kills every process it started - the shims and the
// containers' inits included - and removes what it made.
func manualSteps(ctrd, runc versions.Artifact, scrapers, concurrency, tasks int) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	cv, rv := strings.TrimPrefix(ctrd.Version, "v"), strings.TrimPrefix(runc.Version, "v")
	p("#!/bin/sh")
	p("# containerd#6772 (fixed by containerd#6801) without relapse: containerd %s with runc %s.", cv, rv)
	p("# From 1.6.0 (containerd#5744) task Create holds the cgroups metrics collector's lock while")
	p("# taking go-metrics' namespace lock, and a /v1/metrics scrape takes them the other way round:")
	p("# under concurrent creates and scrapes both wait forever, the create never returns, and its")
	p("# runc init waits on exec.fifo for a start that never comes.")
	p("#")
	p("# Run as root in an empty directory (needs curl and iproute2):")
	p("#   CONTAINERD_BIN=/dir/with/containerd,shim,ctr RUNC=/path/to/runc sh reproduce.sh")
	p("#   sh reproduce.sh      # builds containerd %s and runc %s first (Go, gcc, libseccomp-dev, the Go module proxy)", cv, rv)
	p("# Expected with an affected containerd (1.6.0 to 1.6.2), exit status 1:")
	p("#   HUNG: K of %d task creates did not return; runc init (pid P) of cN waits on exec.fifo; containerd's goroutines show (*Collector).Add and (*Collector).Collect waiting on each other's locks", tasks)
	p("# Expected with a fixed one (1.6.3 and later; not always on the first run, the race is")
	p("# timing-dependent: relapse decides from repeated runs), exit status 0:")
	p("#   STARTED: %d of %d task creates returned while %d loops scraped /v1/metrics", tasks, tasks, scrapers)
	p("# Exit status 2: something else went wrong (the script says what).")
	p("#")
	p("# relapse ran containerd %s (module sum %s%s) and runc %s (%s%s).", cv, ctrd.Sum, commitNote(ctrd.Commit), rv, runc.Sum, commitNote(runc.Commit))
	p("set -u")
	p("here=$(pwd)")
	p("ns=ctrd6772-$$")
	p("cgns=repro6772")
	p("CONTAINERD_BIN=${CONTAINERD_BIN:-}")
	p("RUNC=${RUNC:-}")
	p("if [ -z \"$CONTAINERD_BIN\" ]; then")
	p("  echo \"building containerd %s\"", cv)
	p("  %s || exit 2", indent(ctrd.BuildCommand))
	p("  CONTAINERD_BIN=$here")
	p("fi")
	p("if [ -z \"$RUNC\" ]; then")
	p("  echo \"building runc %s\"", rv)
	p("  %s || exit 2", runc.BuildCommand)
	p("  RUNC=$here/runc")
	p("fi")
	p("ctr() { \"$CONTAINERD_BIN/ctr\" -a \"$here/c.sock\" -n $cgns \"$@\"; }")
	p("pids=")
	p("cleanup() {")
	p("  for pid in $pids; do kill -9 \"$pid\" 2>/dev/null; done")
	p("  # The containers' processes (hung runc inits among them) are in the namespace's cgroups.")
	p("  for procs in /sys/fs/cgroup/$cgns/*/cgroup.procs /sys/fs/cgroup/*/$cgns/*/cgroup.procs; do")
	p("    [ -f \"$procs\" ] && for pid in $(cat \"$procs\"); do kill -9 \"$pid\" 2>/dev/null; done")
	p("  done")
	p("  pkill -9 -f \"containerd-shim-runc-v2 .*-address $here/c.sock\" 2>/dev/null")
	p("  sleep 1")
	p("  for dir in /sys/fs/cgroup/$cgns/* /sys/fs/cgroup/$cgns /sys/fs/cgroup/*/$cgns/* /sys/fs/cgroup/*/$cgns; do")
	p("    [ -d \"$dir\" ] && rmdir \"$dir\" 2>/dev/null")
	p("  done")
	p("  ip netns delete $ns 2>/dev/null")
	p("  rm -rf \"$here/rootfs\" \"$here/root\" \"$here/state\" \"$here/config.toml\" \"$here/c.sock\" \"$here/c.sock.ttrpc\" \"$here/debug.sock\" \"$here/exits\"")
	p("}")
	p("trap cleanup EXIT")
	p("trap 'exit 130' INT TERM")
	p("")
	p("%s", fixture.RootfsShell)
	p("make_rootfs rootfs sh sleep || exit 2")
	p("cat > config.toml <<EOF")
	p("version = 2")
	p("root = \"$here/root\"")
	p("state = \"$here/state\"")
	p("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]")
	p("[grpc]\n  address = \"$here/c.sock\"")
	p("[ttrpc]\n  address = \"$here/c.sock.ttrpc\"")
	p("[debug]\n  address = \"$here/debug.sock\"")
	p("[metrics]\n  address = \"%s\"", metricsAddress)
	p("EOF")
	p("ip netns add $ns && ip -n $ns link set lo up || exit 2")
	p("# containerd gets a network namespace and, in a private mount namespace, empty /run and /opt:")
	p("# its shim sockets, runc state and plugin directories never land on the host.")
	p("nsenter --net=/run/netns/$ns unshare -m --propagation private sh -c \\")
	p("  'mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /opt && exec env PATH=\"$0:$PATH\" \"$0/containerd\" --config \"$1\"' \\")
	p("  \"$CONTAINERD_BIN\" \"$here/config.toml\" >containerd.log 2>&1 &")
	p("pids=\"$pids $!\"")
	p("i=0; while [ ! -S c.sock ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done")
	p("[ -S c.sock ] || { echo \"containerd did not start:\"; tail containerd.log; exit 2; }")
	p("# %d scrape loops: one alone rarely loses the race.", scrapers)
	p("for i in $(seq %d); do", scrapers)
	p("  nsenter --net=/run/netns/$ns sh -c 'while :; do curl -s -m 5 http://%s/v1/metrics >/dev/null; done' &", metricsAddress)
	p("  pids=\"$pids $!\"")
	p("done")
	p("mkdir -p exits")
	p("# Each create gets 20 s; after the first that does not return, no new one starts (a")
	p("# deadlocked containerd would make every later create wait its 20 s too).")
	p("seq %d | xargs -P %d -I{} sh -c '[ -e \"$5/stop\" ] && exit 0; timeout 20 \"$0\" -a \"$1\" -n \"$2\" run -d --null-io --runc-binary \"$3\" --rootfs \"$4\" c{} /bin/sleep 3600 >/dev/null 2>&1; rc=$?; echo $rc > \"$5/c{}\"; [ $rc = 124 ] && touch \"$5/stop\"; exit 0' \\", tasks, concurrency)
	p("  \"$CONTAINERD_BIN/ctr\" \"$here/c.sock\" $cgns \"$RUNC\" \"$here/rootfs\" \"$here/exits\"")
	p("rm -f exits/stop")
	p("hung=$(grep -lx 124 exits/* 2>/dev/null | wc -l)")
	p("if [ \"$hung\" -eq 0 ]; then")
	p("  ok=$(grep -lx 0 exits/* | wc -l)")
	p("  if [ \"$ok\" -eq %d ]; then", tasks)
	p("    echo \"STARTED: $ok of %d task creates returned while %d loops scraped /v1/metrics\"", tasks, scrapers)
	p("    exit 0")
	p("  fi")
	p("  echo \"$ok of %d creates succeeded; the others failed (not hung): see containerd.log\"; exit 2", tasks)
	p("fi")
	p("parked=")
	p("for pid in $(pgrep -f \"$RUNC init\"); do")
	p("  if ls -l /proc/$pid/fd 2>/dev/null | grep -q exec.fifo; then parked=\"$parked $pid\"; fi")
	p("done")
	p("curl -s --unix-socket debug.sock 'http://localhost/debug/pprof/goroutine?debug=2' > containerd-goroutines.txt")
	p("add=$(grep -c 'Collector).Add' containerd-goroutines.txt)")
	p("collect=$(grep -c 'Collector).Collect' containerd-goroutines.txt)")
	p("echo \"$hung of %d task creates did not return within 20 s; runc inits waiting on exec.fifo:$parked\"", tasks)
	p("if [ -n \"$parked\" ] && [ \"$add\" -gt 0 ] && [ \"$collect\" -gt 0 ]; then")
	p("  grep -B2 -A14 'Collector).Add' containerd-goroutines.txt | head -40")
	p("  echo \"HUNG: $hung of %d task creates did not return; runc init (pid${parked}) waits on exec.fifo; containerd's goroutines show (*Collector).Add and (*Collector).Collect waiting on each other's locks (containerd-goroutines.txt)\"", tasks)
	p("  exit 1")
	p("fi")
	p("echo \"creates are slow, but the goroutine dump does not show the two collector stacks: not this bug (or not yet)\"")
	p("exit 2")
	return b.String()
}

func commitNote(c string) string {
	if c == "" {
		return ""
	}
	return ", release commit " + c
}

// indent continues a multi-line command inside the script's if block.
func indent(cmd string) string { return strings.ReplaceAll(cmd, "\n", "\n  ") }
