package runcpipehang

import (
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/versions"
)

// manualSteps is the shell script a maintainer can paste, as root, to see
// the same hang without relapse.
func manualSteps(art versions.Artifact, profile fixture.Profile, softLimit, reportDir, engine string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# containerd#5261 (fixed by runc#2871) by hand, as root. runc %s, module sum %s.", art.Version, art.Sum)
	p("# Needs Go, gcc and the libseccomp headers (Debian: libseccomp-dev).")
	p("mkdir -p /tmp/relapse-5261 && cd /tmp/relapse-5261")
	p("%s", art.BuildCommand)
	p("")
	p("# The bundle relapse ran is saved with this report (bundle/). Its seccomp profile")
	p("# (%s) compiles to %d bytes with libseccomp.", profile.Description, profile.BPFBytes)
	p("mkdir -p bundle/rootfs/proc bundle/rootfs/dev bundle/rootfs/sys bundle/rootfs/tmp bundle/rootfs/etc")
	p("cp %s/bundle/config.json bundle/", reportDir)
	p("cp %s/bundle/rootfs/init bundle/rootfs/init  # or from relapse's source: CGO_ENABLED=0 go build -o bundle/rootfs/init ./fixtures/init", reportDir)
	p("")
	p("old=$(cat /proc/sys/fs/pipe-user-pages-soft)")
	p("echo %s > /proc/sys/fs/pipe-user-pages-soft", softLimit)
	p("# With noNewPrivileges the filter is loaded after exec.fifo is opened, so on rc93")
	p("# `runc start` (or `runc run`) is the command that never returns.")
	p("./runc --root $PWD/state create --bundle bundle c1 </dev/null >c1.out 2>&1")
	p("timeout 10 ./runc --root $PWD/state start c1 &")
	p("sleep 2")
	p("pid=$(./runc --root $PWD/state state c1 | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p')")
	p("cat /proc/$pid/wchan; echo; cat /proc/$pid/syscall   # write(2): fd, buffer, %d bytes", profile.BPFBytes)
	p("cat /proc/$pid/stack; ls -l /proc/$pid/fd            # two fds on the same pipe:[N]")
	p("")
	if engine == "docker" {
		p("")
		p("# Through docker instead (the seed's recipe, containerd#5261), with this runc as dockerd's runtime")
		p("# (dockerd --add-runtime r=/tmp/relapse-5261/runc --default-runtime r), any image whose CMD exits:")
		p("timeout 20 docker run -d --network none --security-opt no-new-privileges --security-opt seccomp=%s/seccomp.json IMAGE  # never returns on rc93", reportDir)
	}
	p("# Put the host back.")
	p("echo $old > /proc/sys/fs/pipe-user-pages-soft")
	p("./runc --root $PWD/state delete --force c1")
	return b.String()
}
