package runcerrnoret

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/reproscript"
	"github.com/relapse-dev/relapse/harness/versions"
)

func errno(n uint) *uint { return &n }

var dockerLike = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
	{Names: []string{"read", "write"}, Action: specs.ActAllow},
	{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: errno(38)},
	{Names: []string{"bdflush"}, Action: specs.ActErrno, ErrnoRet: errno(1)},
}}

func TestProfilesSplitOffTheErrnoRetRulesOnly(t *testing.T) {
	control, rules := profiles(dockerLike)
	if len(control.Syscalls) != 1 || control.Syscalls[0].Names[0] != "read" {
		t.Errorf("control = %+v, want only the allow rule", control.Syscalls)
	}
	if len(rules) != 2 || ruleSyscalls(rules)[0] != "bdflush" {
		t.Errorf("rules = %+v", rules)
	}
	if len(dockerLike.Syscalls) != 3 {
		t.Error("profiles changed its input")
	}
	if got := describeRules(rules[:1]); got != "clone3 -> SCMP_ACT_ERRNO errnoRet 38" {
		t.Errorf("describeRules = %q", got)
	}
}

func TestClassifySeccompLoad(t *testing.T) {
	_, rules := profiles(dockerLike)
	tests := []struct {
		name, output string
		want         bool
		why          string
	}{
		{"libseccomp 2.5 through old libseccomp-golang",
			`container_linux.go:370: starting container process caused: error adding seccomp filter rule for syscall clone3: permission denied: unknown`, true, "EACCES"},
		{"libseccomp's own words",
			`process_linux.go:422: container init caused "error adding seccomp rule for syscall clone3: requested action matches default action of filter"`, true, "libseccomp's own words"},
		{"a redundant EPERM rule is cri-o#5117",
			`error adding seccomp filter rule for syscall bdflush: permission denied`, false, "cri-o#5117"},
		{"a rule without errnoRet", `error adding seccomp filter rule for syscall read: invalid argument`, false, "carries no errnoRet"},
		{"not a seccomp failure", `container_linux.go:367: starting container process caused: exec: "/init": permission denied`, false, "names no seccomp rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, notThis, ok := classifySeccompLoad(tt.output, rules)
			if ok != tt.want {
				t.Fatalf("ok = %v, want %v (%s)", ok, tt.want, notThis)
			}
			text := notThis
			if ok {
				text = strings.Join(f.Reasons, "\n")
				if f.Kind != KindErrnoRetIgnored || !strings.Contains(f.Summary, "clone3 rule's errnoRet 38") {
					t.Errorf("finding = %+v", f)
				}
			}
			if !strings.Contains(text, tt.why) {
				t.Errorf("want %q in:\n%s", tt.why, text)
			}
		})
	}
}

func TestPodmanProfilesLeaveOutEPERMRulesAndSplitTheRest(t *testing.T) {
	raw := []byte(`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"archMap":[{"architecture":"SCMP_ARCH_X86_64"}],
		"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
		{"names":["bdflush","kexec_load"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
		{"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":22,"excludes":{"caps":["CAP_AUDIT_WRITE"]}}]}`)
	trigger, control, rules, redundant, err := podmanProfiles(raw)
	if err != nil {
		t.Fatal(err)
	}
	count := func(data []byte) int {
		var back map[string]any
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if back["defaultErrnoRet"].(float64) != 38 || back["archMap"] == nil {
			t.Errorf("profile lost its header: %s", data)
		}
		return len(back["syscalls"].([]any))
	}
	if count(trigger) != 2 || count(control) != 1 {
		t.Errorf("trigger has %d rules, control %d; want 2 and 1", count(trigger), count(control))
	}
	if len(rules) != 1 || rules[0].Names[0] != "socket" || *rules[0].ErrnoRet != 22 || rules[0].Action != specs.ActErrno {
		t.Errorf("rules = %+v", rules)
	}
	if len(redundant) != 1 || len(redundant[0].Names) != 2 {
		t.Errorf("redundant = %+v", redundant)
	}
	if _, _, _, _, err := podmanProfiles([]byte(`{"syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}`)); err == nil {
		t.Error("a profile with only EPERM errnoRet rules: want an error")
	}
}

// The portable reproducer is POSIX sh that shellcheck passes, with both
// bundles, the rules' syscalls and the shared cleanup.
func TestManualStepsAreLintedShellWithBothBundles(t *testing.T) {
	control, rules := profiles(dockerLike)
	spec := fixture.Config("/var/lib/relapse/some/rootfs", fixture.ConfigOptions{})
	ctl, trig := *spec, *spec
	ctlLinux, trigLinux := *spec.Linux, *spec.Linux
	ctlLinux.Seccomp, trigLinux.Seccomp = control, dockerLike
	ctl.Linux, trig.Linux = &ctlLinux, &trigLinux
	runc := versions.Artifact{Resolved: versions.Resolved{Version: "v1.0.0-rc90", Sum: "h1:x"}, BuildCommand: "true"}
	script, err := manualSteps(runc, &ctl, &trig, rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"runc 1.0.0-rc90", "make_rootfs errnoret/rootfs sh", `"errnoRet": 38`, "(bdflush|clone3)", "trap cleanup EXIT", "cgroup=c4491-$$"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "/var/lib/relapse") {
		t.Error("script names a path of the machine that ran it")
	}
	if err := reproscript.Lint(context.Background(), script); err != nil {
		t.Error(err)
	}
}

func TestPodmanStepsAreLintedShell(t *testing.T) {
	script, err := podmanSteps()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--cgroup-parent \"/$cgroup\"", "podman-trigger-seccomp.json", "trap cleanup EXIT"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if err := reproscript.Lint(context.Background(), script); err != nil {
		t.Error(err)
	}
}
