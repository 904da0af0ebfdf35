package runcpipehang

import (
	"context"
	"time"

	"encoding/json"
	"errors"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/reproscript"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

var large = fixture.Profile{Name: fixture.ProfileLarge, BPFBytes: 13080}

func ran(n, pipeSize int) *runckit.Outcome {
	return &runckit.Outcome{Record: report.Attempt{N: n}, Started: true, Init: runckit.InitReport{OK: true, PipeSize: pipeSize}}
}

func failed(n int, why string) *runckit.Outcome {
	return &runckit.Outcome{Record: report.Attempt{N: n}, Failure: why}
}

func hung(n int) *runckit.Outcome {
	return &runckit.Outcome{Record: report.Attempt{N: n}, Finding: &report.Finding{
		Summary: "pid 4242 (runc:[2:INIT]) is blocked writing 13080 bytes into an 8192-byte pipe (pipe:[11045]) whose only read end it holds itself"}}
}

// What bare runc's starts showed, as facts, and the verdict on them
// (the verdict table, Examples, covers the rule on facts alone).
func TestObserveAndClassify(t *testing.T) {
	tests := []struct {
		name    string
		results []*runckit.Outcome
		profile fixture.Profile
		want    report.Result
		reason  string
	}{
		{
			name:    "finding on the second attempt reproduces",
			results: []*runckit.Outcome{ran(1, 8192), hung(2)},
			profile: large,
			want:    report.Reproduced,
			reason:  "attempt 2 of 2: pid 4242 (runc:[2:INIT]) is blocked writing 13080 bytes into an 8192-byte pipe (pipe:[11045]) whose only read end it holds itself",
		},
		{
			name:    "finding wins over an earlier failure",
			results: []*runckit.Outcome{failed(1, "runc create failed: exit status 1"), hung(2)},
			profile: large,
			want:    report.Reproduced,
			reason:  "attempt 2 of 2: ",
		},
		{
			name:    "all started with shrunk pipes and armed",
			results: []*runckit.Outcome{ran(1, 8192), ran(2, 8192), ran(3, 8192)},
			profile: large,
			want:    report.NotReproduced,
			reason:  "3 of 3 containers started with a 13080-byte seccomp filter while their own pipes held 8192 bytes: runc loaded the filter without hanging",
		},
		{
			name:    "one-page pipes of old kernels count as shrunk",
			results: []*runckit.Outcome{ran(1, 4096)},
			profile: large,
			want:    report.NotReproduced,
			reason:  "1 of 1 containers started",
		},
		{
			name:    "a failed attempt is inconclusive",
			results: []*runckit.Outcome{ran(1, 8192), failed(2, "runc create failed: exit status 1")},
			profile: large,
			want:    report.Inconclusive,
			reason:  "attempt 2: runc create failed: exit status 1",
		},
		{
			name:    "failures are all listed",
			results: []*runckit.Outcome{failed(1, "a"), failed(2, "b")},
			profile: large,
			want:    report.Inconclusive,
			reason:  "attempt 1: a; attempt 2: b",
		},
		{
			name:    "started with a 64 KiB pipe: limit not in force",
			results: []*runckit.Outcome{ran(1, 65536)},
			profile: large,
			want:    report.Inconclusive,
			reason:  "only 0 of 1 containers saw shrunk pipes: the soft limit was not in force for them",
		},
		{
			name:    "some containers saw big pipes",
			results: []*runckit.Outcome{ran(1, 8192), ran(2, 65536)},
			profile: large,
			want:    report.Inconclusive,
			reason:  "only 1 of 2 containers saw shrunk pipes",
		},
		{
			name:    "pipe size unknown is not shrunk",
			results: []*runckit.Outcome{ran(1, 0)},
			profile: large,
			want:    report.Inconclusive,
			reason:  "not in force",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := kit.Decide(Declaration, kit.Ran(), observe(tt.results, len(tt.results), tt.profile))
			got, reason := v.Result, v.Reason
			if got != tt.want {
				t.Errorf("result = %s, want %s (%s)", got, tt.want, reason)
			}
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}

func testReproducer(engine string) reproducer {
	art := versions.Artifact{
		Resolved: versions.Resolved{Component: "runc", Version: "v1.0.0-rc93", Sum: "h1:tLhyJOVKTGM3dbfUBfeSCb3R5iMq/5aSaY2BXnD6HIk=",
			Commit: "12644e614e25b05da6fd08a38ffa0cfe1903fdec"},
		BuildCommand: "GOTOOLCHAIN=local CGO_ENABLED=1 GOBIN=$PWD go install -tags seccomp " +
			"-ldflags '-X main.version=1.0.0-rc93 -X main.gitCommit=module-v1.0.0-rc93' github.com/opencontainers/runc@v1.0.0-rc93",
	}
	spec := fixture.Config("/var/lib/relapse/some/rootfs", fixture.ConfigOptions{NoNewPrivileges: true})
	profile := fixture.Profile{Name: fixture.ProfileLarge, Description: "Docker's default profile plus 640 rules", BPFBytes: 13080,
		Seccomp: &specs.LinuxSeccomp{Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86}}, Architectures: []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}}
	return reproducer{runc: art, spec: spec, profile: profile, fillerRules: 1613, fillerBytes: 13080, softLimit: "1", engine: engine,
		kernel: "6.1.0", libseccomp: "2.5.4"}
}

func manualScript(t *testing.T, engine string) string {
	t.Helper()
	s, err := manualSteps(testReproducer(engine))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestManualStepsContent(t *testing.T) {
	s := manualScript(t, "runc")
	for _, want := range []string{
		"runc 1.0.0-rc93 (module sum h1:tLhyJOVKTGM3dbfUBfeSCb3R5iMq/5aSaY2BXnD6HIk=, release commit 12644e614e25b05da6fd08a38ffa0cfe1903fdec)",
		"HUNG: runc init (pid N) is blocked in write(2) of 13080 bytes", "STARTED: container started under a 13080-byte filter",
		"filler_rules 1613", "set_sysctl 1", "trap cleanup EXIT", "make_rootfs bundle/rootfs sh",
		"46c4c9d1beb7", "1 page (4096 bytes) before",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	// Nothing of the machine that ran it: no report directory, no relapse path.
	for _, bad := range []string{"/var/lib/relapse", "/reports/", "relapse repro", "fixtures/"} {
		if strings.Contains(s, bad) {
			t.Errorf("script names %q, a path of the machine that ran it", bad)
		}
	}
	if strings.Contains(s, "docker run") {
		t.Error("the bare runc script mentions docker")
	}
	if !strings.Contains(manualScript(t, "docker"), "--security-opt no-new-privileges") {
		t.Error("the docker variant does not say how to run it through dockerd")
	}
}

func TestManualStepsIsValidShell(t *testing.T) {
	for _, engine := range []string{"runc", "docker", "containerd"} {
		if err := reproscript.Lint(context.Background(), manualScript(t, engine)); err != nil {
			t.Errorf("ENGINE=%s: %v", engine, err)
		}
	}
}

// The script's config.json is the run's config with the container's own
// process and the generated profile, as valid JSON.
func TestManualStepsWritesTheConfig(t *testing.T) {
	rp := testReproducer("runc")
	head, tail, err := rp.scriptConfig()
	if err != nil {
		t.Fatal(err)
	}
	sh := fixture.FillerRulesShell + "\nprintf '%s' \"$HEAD\"; filler_rules 5; printf '%s' \"$TAIL\""
	cmd := exec.Command("sh", "-c", sh)
	cmd.Env = []string{"HEAD=" + head, "TAIL=" + tail, "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(out, &spec); err != nil {
		t.Fatalf("config.json is not JSON: %v\n%s", err, out)
	}
	sc := spec.Linux.Seccomp
	if sc == nil || sc.DefaultAction != specs.ActAllow || len(sc.Syscalls) != 5 || sc.Syscalls[4].Args[0].Value != fixture.PersonalityBase+4 {
		t.Fatalf("seccomp = %+v", sc)
	}
	if want := fixture.PipeFiller(sc.Architectures, 5); !reflect.DeepEqual(sc.Syscalls, want.Syscalls) {
		t.Errorf("the shell's rules differ from fixture.PipeFiller's:\n%+v\n%+v", sc.Syscalls, want.Syscalls)
	}
	if !spec.Process.NoNewPrivileges || spec.Root.Path != "rootfs" || spec.Process.Args[0] != "/bin/sh" {
		t.Errorf("process %+v root %+v", spec.Process, spec.Root)
	}
}

// The declaration is whole (identity, specs, cells, its verdict table),
// registered under its derived name with its old one as an alias.
func TestDeclaration(t *testing.T) {
	if err := kit.Check(Declaration); err != nil {
		t.Fatal(err)
	}
	for _, err := range kit.CheckExamples(Declaration) {
		t.Error(err)
	}
	s := lookup(t)
	if s.Name() != "containerd-5261" || Name != s.Name() || s.Bug().ID != "containerd#5261" || s.Bug().Fix != "runc#2871" || s.Bug().Component != "runc" {
		t.Errorf("Name, Bug = %q, %+v", s.Name(), s.Bug())
	}
	// runc always; containerd only when a version is given (engine=containerd).
	var names []string
	for _, c := range s.Components() {
		names = append(names, c.Target().Name)
	}
	if strings.Join(names, " ") != "runc containerd" || !scenario.IsOptional(s, "containerd") || scenario.IsOptional(s, "runc") {
		t.Errorf("Components = %v, containerd optional %v", names, scenario.IsOptional(s, "containerd"))
	}
	if unprivilegedPipeBytes != 8192 {
		t.Errorf("unprivilegedPipeBytes = %d", unprivilegedPipeBytes)
	}
	if bad, good := kit.Endpoints(Declaration); bad != "1.0.0-rc93" || good != "1.0.0-rc94" {
		t.Errorf("bisect endpoints %s..%s", bad, good)
	}
}

// lookup is the bug's scenario, found by its old name as scripts ask.
func lookup(t *testing.T) scenario.Scenario {
	t.Helper()
	s, err := scenario.Lookup("runc-pipe-hang")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestObserveWithoutAttemptsIsInconclusive(t *testing.T) {
	v := kit.Decide(Declaration, kit.Ran(), observe(nil, 3, fixture.Profile{Name: "large", BPFBytes: 13080}))
	if v.Result != report.Inconclusive || !strings.Contains(v.Reason, "no container") {
		t.Fatalf("observe(nil) = %s, %q; want INCONCLUSIVE 'no container...'", v.Result, v.Reason)
	}
}

func TestStartDeadlineFollowsTheControl(t *testing.T) {
	if got := startDeadline(20*time.Second, time.Second); got != 20*time.Second {
		t.Errorf("a fast control keeps create-timeout, got %s", got)
	}
	if got := startDeadline(20*time.Second, 30*time.Second); got != 150*time.Second {
		t.Errorf("a 30 s control start (a VM under emulation) gives 150 s, got %s", got)
	}
}

// Every engine a binary links is one the scenario knows by name, so a
// lean build can tell an engine it leaves out from a typo.
func TestLinkedEnginesAreKnown(t *testing.T) {
	for _, name := range engineChoices() {
		if !slices.Contains(allEngines, name) {
			t.Errorf("engine %q is linked but not in allEngines %v", name, allEngines)
		}
	}
	valid := scenario.NotLinkedChoice(allEngines, engineChoices())
	if err := valid("dockr"); err == nil || errors.Is(err, scenario.ErrNotLinked) {
		t.Errorf("a typo: %v, want a plain error", err)
	}
	if err := valid("runc"); err != nil {
		t.Errorf("runc: %v", err)
	}
}

// A containerd version means a containerd the run starts: only the
// containerd engine does.
func TestCheckPlanRefusesAContainerdNoEngineRuns(t *testing.T) {
	for engine, ok := range map[string]bool{"containerd": true, "runc": false, "docker": false} {
		s := lookup(t)
		params, err := scenario.ResolveParams(s, map[string]string{"engine": engine})
		if err != nil {
			t.Fatal(err)
		}
		plan := s.(scenario.PlanChecker)
		err = plan.CheckPlan("local", params, map[string]string{"runc": "v1.0.0-rc93", "containerd": "v2.4.2"})
		if ok != (err == nil) {
			t.Errorf("engine=%s with containerd 2.4.2: %v", engine, err)
		}
		if err != nil && !strings.Contains(err.Error(), "add engine=containerd (ENGINE=containerd), or leave the containerd version out") {
			t.Errorf("engine=%s: %v does not say what would be right", engine, err)
		}
		if err := plan.CheckPlan("local", params, map[string]string{"runc": "v1.0.0-rc93"}); err != nil {
			t.Errorf("engine=%s without a containerd version: %v", engine, err)
		}
	}
}
