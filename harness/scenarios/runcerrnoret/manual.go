package runcerrnoret

import (
	"embed"
	"encoding/json"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/reproscript"
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

//go:embed reproduce.sh.tmpl
var scriptFS embed.FS

// script is the portable reproducer's template (reproduce.sh.tmpl).
var script = reproscript.MustParse(scriptFS, "reproduce.sh.tmpl")

// scriptData is what reproduce.sh.tmpl is rendered from.
type scriptData struct {
	reproscript.Base
	Runc versions.Artifact
	// PatchNote names the patches the build carries (" with NAME, ...").
	PatchNote string
	// Rules describes the errnoRet rules, Syscalls names their syscalls.
	Rules    string
	Syscalls []string
	// Control and Trigger are the two bundles' config.json.
	Control, Trigger string
}

// scriptCleanup is what the script makes: two bundles, their logs, runc's
// state, and the two containers' cgroups (c4491-PID-control and
// c4491-PID-errnoret).
var scriptCleanup = reproscript.Cleanup{Made: []string{"control", "errnoret", "state", "control.log", "errnoret.log"}, Cgroup: "c4491-$$"}

// manualSteps is the portable reproducer: a POSIX shell script that runs
// alone in an empty directory as root, with nothing of relapse's. It makes
// two bundles from the machine's own /bin/sh, identical but for the
// profile's errnoRet rules, runs both, and decides from what runc says; it
// puts everything back on any exit (the shared prologue).
func manualSteps(runc versions.Artifact, control, trigger *specs.Spec, rules []specs.LinuxSyscall) (string, error) {
	controlJSON, err := portableConfig(control)
	if err != nil {
		return "", err
	}
	triggerJSON, err := portableConfig(trigger)
	if err != nil {
		return "", err
	}
	return script.Render(scriptData{Base: reproscript.Base{Cleanup: scriptCleanup}, Runc: runc, PatchNote: patchNote(runc),
		Rules: describeRules(rules), Syscalls: ruleSyscalls(rules), Control: controlJSON, Trigger: triggerJSON})
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
