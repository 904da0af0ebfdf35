package runcerrnoret

import (
	"encoding/json"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/versions"
)

// portableConfig is a bundle's config for the script: the machine's sh as
// the process, the bundle's own rootfs, and no cgroup path of relapse's.
func portableConfig(spec *specs.Spec) (string, error) {
	s := *spec
	proc := *s.Process
	proc.Args = []string{"/bin/sh", "-c", "echo container started"}
	s.Process = &proc
	s.Root = &specs.Root{Path: "rootfs", Readonly: spec.Root != nil && spec.Root.Readonly}
	linux := *s.Linux
	linux.CgroupsPath = ""
	s.Linux = &linux
	data, err := json.MarshalIndent(&s, "", " ")
	return string(data), err
}

// manualSteps is the portable reproducer: a POSIX shell script that runs
// alone in an empty directory as root, with nothing of relapse's. It makes
// two bundles from the machine's own /bin/sh, identical but for the
// profile's errnoRet rules, runs both, and decides from what runc says.
func manualSteps(runc versions.Artifact, control, trigger *specs.Spec, rules []specs.LinuxSyscall) (string, error) {
	controlJSON, err := portableConfig(control)
	if err != nil {
		return "", err
	}
	triggerJSON, err := portableConfig(trigger)
	if err != nil {
		return "", err
	}
	syscalls := ruleSyscalls(rules)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	v := strings.TrimPrefix(runc.Version, "v")
	p("#!/bin/sh")
	p("# cri-o#4491 (fixed by runc#2424) without relapse: runc %s%s, as relapse ran it.", v, patchNote(runc))
	p("# runc before v1.0.0-rc91 drops a seccomp rule's errnoRet. Docker's default profile (default")
	p("# action SCMP_ACT_ERRNO, i.e. EPERM) has %s; without its errnoRet the rule equals", describeRules(rules))
	p("# the default action, libseccomp refuses it, and the container cannot start.")
	p("#")
	p("# Run as root in an empty directory:")
	p("#   RUNC=/path/to/runc sh reproduce.sh   # the runc to test")
	p("#   sh reproduce.sh                      # builds the runc relapse ran first (Go, gcc, libseccomp-dev, the Go module proxy)")
	p("# Expected with an affected runc (before v1.0.0-rc91, or rc91 with runc#2424 reverted), exit status 1:")
	p("#   FAILED: the control bundle starts; the bundle with errnoRet rules fails adding the rule for %s", strings.Join(syscalls, ","))
	p("# Expected with a fixed runc (v1.0.0-rc91 and later), exit status 0:")
	p("#   STARTED: both bundles start: runc honours errnoRet")
	p("# Exit status 2: something else went wrong (the script says what).")
	p("#")
	p("# relapse ran runc %s (module sum %s).", v, runc.Sum)
	b.WriteString(runckit.ScriptPreamble(runc))
	p("cleanup() {")
	p("  for c in control errnoret; do \"$RUNC\" --root \"$state\" delete --force c4491-$c >/dev/null 2>&1; done")
	p("  rm -rf \"$here/control\" \"$here/errnoret\" \"$state\" \"$here\"/*.log")
	p("}")
	p("trap cleanup EXIT")
	p("trap 'exit 130' INT TERM")
	p("")
	p("%s", fixture.RootfsShell)
	p("make_rootfs control/rootfs sh || exit 2")
	p("make_rootfs errnoret/rootfs sh || exit 2")
	p("cat > control/config.json <<'EOF'")
	p("%s", controlJSON)
	p("EOF")
	p("cat > errnoret/config.json <<'EOF'")
	p("%s", triggerJSON)
	p("EOF")
	p("")
	p("# noNewPrivileges is off (as in Kubernetes): runc loads the filter while its init pipe is open,")
	p("# so a refused rule reaches runc's exit status instead of being lost.")
	p("run() { timeout 60 \"$RUNC\" --root \"$state\" run --bundle \"$here/$1\" c4491-$1 </dev/null >\"$1.log\" 2>&1; }")
	p("if ! run control || ! grep -q 'container started' control.log; then")
	p("  echo \"the control bundle (no errnoRet rules) did not start: this runc or machine cannot run it:\"; cat control.log; exit 2")
	p("fi")
	p("if run errnoret && grep -q 'container started' errnoret.log; then")
	p("  echo \"STARTED: both bundles start: runc honours errnoRet\"")
	p("  exit 0")
	p("fi")
	p("cat errnoret.log")
	p("if grep -Eq 'seccomp (filter )?rule for syscall (%s)' errnoret.log; then", strings.Join(syscalls, "|"))
	p("  echo \"FAILED: the control bundle starts; the bundle with errnoRet rules fails adding the rule for %s\"", strings.Join(syscalls, ","))
	p("  exit 1")
	p("fi")
	p("echo \"the errnoRet bundle failed, but not on an errnoRet rule: not this bug\"")
	p("exit 2")
	return b.String(), nil
}

// patchNote names the patches a build carries.
func patchNote(a versions.Artifact) string {
	var names []string
	for _, p := range a.Patches {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return ""
	}
	return " with " + strings.Join(names, ", ")
}
