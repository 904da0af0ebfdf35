package runcpipehang

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/reproscript"
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

//go:embed reproduce.sh.tmpl
var scriptFS embed.FS

// script is the portable reproducer's template (reproduce.sh.tmpl).
var script = reproscript.MustParse(scriptFS, "reproduce.sh.tmpl")

// scriptData is what reproduce.sh.tmpl is rendered from.
type scriptData struct {
	reproscript.Base
	Runc                     versions.Artifact
	Profile                  fixture.Profile
	FillerRules, FillerBytes int
	// Overfills: the generated filter is larger than a 2-page pipe, so
	// an affected runc hangs on any kernel.
	Overfills          bool
	SoftLimit          string
	Kernel, Libseccomp string
	Head, Tail         string
	// Docker: the run went through dockerd; the script says how to do that by hand.
	Docker bool
}

// scriptCleanup is what the script makes and changes: its bundle, runc
// state and log, the container's cgroup (named after the container, unique
// to the script's pid) and the pipe limit.
var scriptCleanup = reproscript.Cleanup{Made: []string{"bundle", "state", "create.log"}, Cgroup: "c5261-$$", Sysctl: SoftLimitKey}

// manualSteps is the portable reproducer: a POSIX shell script that runs
// alone in an empty directory as root, with nothing of relapse's. It makes
// the root filesystem from the machine's own /bin/sh, writes the config
// with a generated profile at least as large as the one relapse ran,
// shrinks the pipes, runs the container and decides from /proc what
// happened; it puts everything back on any exit (the shared prologue).
func manualSteps(rp reproducer) (string, error) {
	head, tail, err := rp.scriptConfig()
	if err != nil {
		return "", err
	}
	return script.Render(scriptData{Base: reproscript.Base{Cleanup: scriptCleanup}, Runc: rp.runc, Profile: rp.profile,
		FillerRules: rp.fillerRules, FillerBytes: rp.fillerBytes, Overfills: rp.fillerBytes > unprivilegedPipeBytes,
		SoftLimit: rp.softLimit, Kernel: rp.kernel, Libseccomp: rp.libseccomp, Head: head, Tail: tail, Docker: rp.engine == "docker"})
}
