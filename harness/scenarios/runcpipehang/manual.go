package runcpipehang

import (
	"encoding/json"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/versions"
)

// reproducer is what the script needs to know about the run.
type reproducer struct {
	runc versions.Artifact
	// spec is the OCI config the attempts used; the script writes the same
	// one with its own process and profile.
	spec *specs.Spec
	// profile is what relapse ran; fillerRules and fillerBytes the
	// profile the script generates instead (at least as large).
	profile                  fixture.Profile
	fillerRules, fillerBytes int
	softLimit, engine        string
	kernel, libseccomp       string
}

// scriptConfig splits the container's config.json around its seccomp
// rules: the script prints head, the filler rules, then tail.
func (rp reproducer) scriptConfig() (head, tail string, err error) {
	spec := *rp.spec
	proc := *spec.Process
	proc.Args = []string{"/bin/sh", "-c", "echo container started"}
	spec.Process = &proc
	// The bundle's own root filesystem, and no cgroup path of relapse's:
	// runc picks one as it does for any container.
	root := specs.Root{Path: "rootfs", Readonly: spec.Root != nil && spec.Root.Readonly}
	spec.Root = &root
	linux := *spec.Linux
	linux.CgroupsPath = ""
	const marker = "RELAPSE-FILLER-RULES"
	linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: rp.profile.Seccomp.Architectures,
		Syscalls: []specs.LinuxSyscall{{Names: []string{marker}}}}
	spec.Linux = &linux
	data, err := json.Marshal(&spec)
	if err != nil {
		return "", "", err
	}
	text := string(data)
	start := strings.Index(text, `{"names":["`+marker)
	end := strings.Index(text[start:], "}") + start + 1
	if start < 0 || end <= start {
		return "", "", fmt.Errorf("placing the filler rules in config.json")
	}
	return text[:start], text[end:], nil
}

// manualSteps is the portable reproducer: a POSIX shell script that runs
// alone in an empty directory as root, with nothing of relapse's. It makes
// the root filesystem from the machine's own /bin/sh, writes the config
// with a generated profile at least as large as the one relapse ran,
// shrinks the pipes, runs the container and decides from /proc what
// happened; it puts everything back on exit, also on Ctrl-C.
func manualSteps(rp reproducer) (string, error) {
	head, tail, err := rp.scriptConfig()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	v := strings.TrimPrefix(rp.runc.Version, "v")
	p("#!/bin/sh")
	p("# containerd#5261 (fixed by runc#2871) without relapse: runc %s, as relapse ran it.", v)
	p("# With noNewPrivileges, runc v1.0.0-rc93's `runc init` writes its seccomp filter into a pipe")
	p("# and reads it only afterwards. Once the user's pipes exceed fs.pipe-user-pages-soft, a new")
	p("# pipe of a process without CAP_SYS_RESOURCE/CAP_SYS_ADMIN gets the minimum capacity: 2 pages")
	p("# (8192 bytes) since Linux 5.14 (46c4c9d1beb7, \"pipe: increase minimum default pipe size to")
	p("# 2 pages\", backported to 4.9.280, 4.19.204, 5.10.58), 1 page (4096 bytes) before. A filter")
	p("# larger than that blocks the write forever and `runc start` never returns.")
	p("#")
	p("# Run as root in an empty directory:")
	p("#   RUNC=/path/to/runc sh reproduce.sh   # the runc to test")
	p("#   sh reproduce.sh                      # builds runc %s first (Go, gcc, libseccomp-dev, the Go module proxy)", v)
	if rp.fillerBytes > unprivilegedPipeBytes {
		p("# Expected with an affected runc (v1.0.0-rc93), exit status 1:")
		p("#   HUNG: runc init (pid N) is blocked in write(2) of %d bytes on pipe:[M], whose read end it holds itself (wchan pipe_write)", rp.fillerBytes)
		p("# Expected with a fixed runc (v1.0.0-rc94 and later, and before rc93), exit status 0:")
	} else {
		p("# This run's profile compiles to %d bytes, which fits a 2-page pipe: even rc93 starts on", rp.fillerBytes)
		p("# kernels since 5.14 (it hangs only where a shrunk pipe holds one page). Expected, exit status 0:")
	}
	p("#   STARTED: container started under a %d-byte filter with pipes shrunk: runc loaded the filter", rp.fillerBytes)
	p("# Exit status 2: something else went wrong (the script says what).")
	p("#")
	p("# relapse ran runc %s (module sum %s%s) on %s with %s,", v, rp.runc.Sum, commitNote(rp.runc.Commit), orDash(rp.kernel), rp.profile.Description)
	p("# which compiles to %d bytes. This script needs no profile file: its own profile allows", rp.profile.BPFBytes)
	p("# every syscall and denies personality(2) for %d persona values nobody uses; it compiles to", rp.fillerRules)
	p("# %d bytes with libseccomp %s (architectures %s).", rp.fillerBytes, orDash(rp.libseccomp), strings.Join(rp.profile.Architectures, " "))
	b.WriteString(runckit.ScriptPreamble(rp.runc))
	p("old=$(cat /proc/sys/fs/pipe-user-pages-soft) || exit 2")
	p("start_pid=")
	p("cleanup() {")
	p("  [ -n \"$start_pid\" ] && kill -9 \"$start_pid\" 2>/dev/null")
	p("  \"$RUNC\" --root \"$state\" delete --force c5261 >/dev/null 2>&1")
	p("  echo \"$old\" > /proc/sys/fs/pipe-user-pages-soft")
	p("  rm -rf \"$here/bundle\" \"$state\" \"$here/create.log\"")
	p("}")
	p("trap cleanup EXIT")
	p("trap 'exit 130' INT TERM")
	p("")
	p("%s", fixture.RootfsShell)
	p("%s", fixture.FillerRulesShell)
	p("make_rootfs bundle/rootfs sh || exit 2")
	p("cat > bundle/head.json <<'EOF'")
	p("%s", head)
	p("EOF")
	p("cat > bundle/tail.json <<'EOF'")
	p("%s", tail)
	p("EOF")
	p("{ tr -d '\\n' < bundle/head.json; filler_rules %d; cat bundle/tail.json; } > bundle/config.json", rp.fillerRules)
	p("")
	p("# Shrink the pipes: uid 0 already holds more than one page in pipes on any running system.")
	p("echo %s > /proc/sys/fs/pipe-user-pages-soft", rp.softLimit)
	p("\"$RUNC\" --root \"$state\" create --bundle \"$here/bundle\" c5261 </dev/null >create.log 2>&1 || { echo \"runc create failed:\"; cat create.log; exit 2; }")
	p("\"$RUNC\" --root \"$state\" start c5261 >>create.log 2>&1 &")
	p("start_pid=$!")
	p("# Give start 10 s; then decide from /proc, not from the clock.")
	p("i=0")
	p("while kill -0 \"$start_pid\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done")
	p("if ! kill -0 \"$start_pid\" 2>/dev/null; then")
	p("  start_pid=")
	p("  i=0")
	p("  while ! grep -q 'container started' create.log && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done")
	p("  if grep -q 'container started' create.log; then")
	p("    echo \"STARTED: container started under a %d-byte filter with pipes shrunk: runc loaded the filter\"", rp.fillerBytes)
	p("    exit 0")
	p("  fi")
	p("  echo \"runc start returned but the container printed nothing:\"; cat create.log; exit 2")
	p("fi")
	p("pid=$(\"$RUNC\" --root \"$state\" state c5261 | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p')")
	p("wchan=$(cat /proc/$pid/wchan 2>/dev/null)")
	p("set -- $(cat /proc/$pid/syscall 2>/dev/null)")
	p("nr=${1:-}; fd=$(( ${2:-0} )); count=$(( ${4:-0} ))")
	p("case $(uname -m) in aarch64|riscv64) write_nr=64 ;; *) write_nr=1 ;; esac")
	p("pipe=$(readlink /proc/$pid/fd/$fd 2>/dev/null)")
	p("ends=$(ls -l /proc/$pid/fd 2>/dev/null | grep -cF \"$pipe\")")
	p("echo \"runc start has not returned after 10 s; runc init is pid $pid:\"")
	p("echo \"  syscall: $(cat /proc/$pid/syscall 2>/dev/null)\"")
	p("echo \"  wchan:   $wchan\"")
	p("ls -l /proc/$pid/fd | grep pipe")
	p("grep -E '^(NoNewPrivs|CapEff)' /proc/$pid/status")
	p("case \"$nr:$wchan:$pipe\" in")
	p("$write_nr:*pipe*:pipe:*)")
	p("  if [ \"$ends\" -ge 2 ]; then")
	p("    echo \"HUNG: runc init (pid $pid) is blocked in write(2) of $count bytes on $pipe, whose read end it holds itself (wchan $wchan)\"")
	p("    exit 1")
	p("  fi ;;")
	p("esac")
	p("echo \"runc start is slow, but runc init is not blocked writing its own pipe: not this bug (or not yet)\"")
	p("exit 2")
	if rp.engine == "docker" {
		p("")
		p("# relapse also ran it through dockerd (the seed's path): with this runc as dockerd's runtime")
		p("# (dockerd --add-runtime r=$RUNC --default-runtime r) and the profile in seccomp.json of the report,")
		p("#   timeout 20 docker run -d --network none --security-opt no-new-privileges --security-opt seccomp=seccomp.json busybox:1.36 true")
		p("# never returns on rc93 while fs.pipe-user-pages-soft is %s.", rp.softLimit)
	}
	return b.String(), nil
}

func commitNote(c string) string {
	if c == "" {
		return ""
	}
	return ", release commit " + c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
