package experiment

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

func TestCheckNodeRefusesWhatNoNodeTakes(t *testing.T) {
	for name, tc := range map[string]struct {
		spec provision.Spec
		want string
	}{
		"provider path":     {provision.Spec{Provider: "../../../tmp/evil"}, `unknown node provider "../../../tmp/evil"`},
		"memory negative":   {provision.Spec{Provider: "qemu", MemoryMiB: -1}, "memory -1 MiB"},
		"cpus negative":     {provision.Spec{Provider: "qemu", CPUs: -1}, "cpus -1"},
		"kernel command":    {provision.Spec{Provider: "qemu", Kernel: "$(id)"}, `kernel "$(id)": want a name`},
		"kernel semicolon":  {provision.Spec{Provider: "qemu", Kernel: "6.1;id"}, "shell metacharacters"},
		"kernel space":      {provision.Spec{Provider: "qemu", Kernel: "6.1 6.12"}, "without spaces"},
		"modules backtick":  {provision.Spec{Provider: "qemu", KernelModules: "`id`"}, `kernel-modules "`},
		"box pipe":          {provision.Spec{Provider: "vagrant", Box: "a|b"}, `box "a|b"`},
		"systemd plain":     {provision.Spec{Provider: "qemu", Systemd: "252"}, `systemd "252": want source:<Debian version>`},
		"systemd bad":       {provision.Spec{Provider: "qemu", Systemd: "source:x"}, `systemd "source:x"`},
		"kernel not a file": {provision.Spec{Provider: "qemu", Kernel: "/nonexistent/bzImage"}, "is not a file"},
		"kernel on local":   {provision.Spec{Kernel: "6.1"}, "KERNEL and BOX need PROVIDER=qemu"},
		"systemd on local":  {provision.Spec{Systemd: "source:252.39-1~deb12u2"}, "SYSTEMD needs PROVIDER=qemu"},
	} {
		t.Run(name, func(t *testing.T) {
			err := CheckNode(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckNode(%+v) = %v, want %q", tc.spec, err, tc.want)
			}
		})
	}
	for _, ok := range []provision.Spec{{}, {Provider: "local"}, {Provider: "qemu", Kernel: "6.12", Systemd: "source:252.39-1~deb12u2", MemoryMiB: 2048, CPUs: 2}, {Provider: "qemu", Kernel: "source:6.1.176-1"}} {
		if err := CheckNode(ok); err != nil {
			t.Errorf("CheckNode(%+v) = %v, want nil", ok, err)
		}
	}
}

func TestCheckRepeatBounds(t *testing.T) {
	for _, n := range []int{0, 1, MaxRepeat} {
		if err := CheckRepeat(n); err != nil {
			t.Errorf("CheckRepeat(%d) = %v", n, err)
		}
	}
	for _, n := range []int{-5, -1, MaxRepeat + 1, 100000000} {
		if err := CheckRepeat(n); err == nil || !strings.Contains(err.Error(), "want a number of repetitions from 1 to 1000") {
			t.Errorf("CheckRepeat(%d) = %v", n, err)
		}
	}
}

// Check refuses offline what Prepare would refuse later, for the scenario
// and its flags.
func TestCheckIsOffline(t *testing.T) {
	for name, tc := range map[string]struct {
		o    Options
		want string
	}{
		"repeat":        {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}, Repeat: -5}, "repeat -5"},
		"version":       {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93; id"}}, `unknown runc version "rc93; id"`},
		"no version":    {Options{Scenario: "runc-pipe-hang"}, "needs a runc version"},
		"param":         {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}, Params: map[string]string{"attempts": "0"}}, "parameter attempts"},
		"component":     {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93", "crun": "1.0"}}, "does not take a crun version"},
		"patch missing": {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}, Patches: map[string][]string{"runc": {"/nonexistent.patch"}}}, "no such file"},
		"node":          {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}, Node: provision.Spec{Provider: "qemu", CPUs: -1}}, "cpus -1"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Check(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
	if err := Check(Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}, Repeat: 3}); err != nil {
		t.Errorf("a good request: %v", err)
	}
}

// A scenario's declared version ranges and its optional containerd are
// checked offline, before anything is built: a bad combination is a usage
// error naming what would be right.
func TestCheckVersionsTheScenarioSupports(t *testing.T) {
	patch := filepath.Join(t.TempDir(), "x.patch")
	diff := "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
	if err := os.WriteFile(patch, []byte(diff), 0o644); err != nil {
		t.Fatal(err)
	}
	containerdEngine := map[string]string{"engine": "containerd"}
	for name, tc := range map[string]struct {
		o    Options
		want string
	}{
		"containerd without go.mod": {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93", "containerd": "1.4.13"}, Params: containerdEngine},
			"containerd 1.4.13 is outside >= 1.5.0"},
		"runc without go.mod": {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "1.0.0-rc90"}},
			"runc 1.0.0-rc90 is outside >= 1.0.0-rc91"},
		"containerd for another engine": {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93", "containerd": "latest"}},
			"only engine=containerd runs a containerd relapse builds"},
		"patch of an unbuilt containerd": {Options{Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}, Params: containerdEngine,
			Patches: map[string][]string{"containerd": {patch}}}, "builds containerd only when a containerd version is given"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Check(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
	for name, o := range map[string]Options{
		"Debian's containerd":       {Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}, Params: containerdEngine},
		"a 2.x containerd":          {Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93", "containerd": "2.4.2"}, Params: containerdEngine},
		"a selector, checked later": {Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "latest", "containerd": "latest"}, Params: containerdEngine},
		"a git build of main":       {Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93", "containerd": "v2.5.0-beta.0.20261201000000-abcdefabcdef"}, Params: containerdEngine},
		"runc alone":                {Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}},
	} {
		if err := Check(o); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// stackScenario builds Kubernetes and containerd; its containerd default
// follows the Kubernetes chosen, as cluster scenarios' does.
type stackScenario struct{}

func (stackScenario) Name() string    { return "stack-defaults" }
func (stackScenario) Bug() report.Bug { return report.Bug{Component: "kubernetes"} }
func (stackScenario) Components() []versions.Builder {
	return []versions.Builder{versions.KubernetesRecipe, versions.ContainerdRecipe}
}
func (stackScenario) Params() []scenario.Param  { return nil }
func (stackScenario) Sampling() report.Sampling { return report.Sampling{} }
func (stackScenario) DefaultVersions() map[string]string {
	return map[string]string{"containerd": "1.7.30"}
}
func (stackScenario) Run(context.Context, *scenario.Env) (report.Result, string, error) {
	return report.Inconclusive, "never run", nil
}
func (stackScenario) DefaultVersionFor(component string, chosen map[string]string) (string, bool) {
	if component == "containerd" && chosen["kubernetes"] == "latest" {
		return "latest", true
	}
	return "", false
}

// TestCheckDefaultFollowsEarlierComponents: a dependent default sees the
// versions chosen before it, a version given wins over it, and the
// static default stands where the dependent one has no answer.
func TestCheckDefaultFollowsEarlierComponents(t *testing.T) {
	for _, tc := range []struct {
		given map[string]string
		want  string
	}{
		{map[string]string{"kubernetes": "latest"}, "latest"},
		{map[string]string{"kubernetes": "1.30.14"}, "1.7.30"},
		{map[string]string{"kubernetes": "latest", "containerd": "2.4.2"}, "2.4.2"},
	} {
		c, err := check(&Options{Using: stackScenario{}, Versions: tc.given})
		if err != nil {
			t.Fatalf("%v: %v", tc.given, err)
		}
		if got := c.requested["containerd"]; got != tc.want {
			t.Errorf("%v: containerd %q, want %q", tc.given, got, tc.want)
		}
	}
}
