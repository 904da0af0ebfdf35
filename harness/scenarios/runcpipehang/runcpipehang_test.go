package runcpipehang

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/versions"
)

var (
	large         = fixture.Profile{Name: fixture.ProfileLarge, BPFBytes: 13080}
	dockerDefault = fixture.Profile{Name: fixture.ProfileDockerDefault, BPFBytes: 7648}
)

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

func TestDecide(t *testing.T) {
	tests := []struct {
		name    string
		results []*runckit.Outcome
		profile fixture.Profile
		armed   bool
		want    report.Result
		reason  string
	}{
		{
			name:    "finding on the second attempt reproduces",
			results: []*runckit.Outcome{ran(1, 8192), hung(2)},
			profile: large, armed: true,
			want:   report.Reproduced,
			reason: "attempt 2 of 2: pid 4242 (runc:[2:INIT]) is blocked writing 13080 bytes into an 8192-byte pipe (pipe:[11045]) whose only read end it holds itself",
		},
		{
			name:    "finding wins over an earlier failure",
			results: []*runckit.Outcome{failed(1, "runc create failed: exit status 1"), hung(2)},
			profile: large, armed: true,
			want:   report.Reproduced,
			reason: "attempt 2 of 2: ",
		},
		{
			name:    "all started with shrunk pipes and armed",
			results: []*runckit.Outcome{ran(1, 8192), ran(2, 8192), ran(3, 8192)},
			profile: large, armed: true,
			want:   report.NotReproduced,
			reason: "3 of 3 containers started with a 13080-byte seccomp filter while their own pipes held 8192 bytes: runc loaded the filter without hanging",
		},
		{
			name:    "one-page pipes of old kernels count as shrunk",
			results: []*runckit.Outcome{ran(1, 4096)},
			profile: large, armed: true,
			want:   report.NotReproduced,
			reason: "1 of 1 containers started",
		},
		{
			name:    "not armed: the filter fits",
			results: []*runckit.Outcome{ran(1, 8192)},
			profile: dockerDefault, armed: false,
			want:   report.Inconclusive,
			reason: "the docker-default profile compiles to 7648 bytes, which fits the 8192-byte pipe: the trigger was not armed, so no hang proves nothing (use profile=large)",
		},
		{
			name:    "a failed attempt is inconclusive",
			results: []*runckit.Outcome{ran(1, 8192), failed(2, "runc create failed: exit status 1")},
			profile: large, armed: true,
			want:   report.Inconclusive,
			reason: "attempt 2: runc create failed: exit status 1",
		},
		{
			name:    "failures are all listed",
			results: []*runckit.Outcome{failed(1, "a"), failed(2, "b")},
			profile: large, armed: true,
			want:   report.Inconclusive,
			reason: "attempt 1: a; attempt 2: b",
		},
		{
			name:    "failure outranks not armed",
			results: []*runckit.Outcome{failed(1, "x")},
			profile: dockerDefault, armed: false,
			want:   report.Inconclusive,
			reason: "attempt 1: x",
		},
		{
			name:    "started with a 64 KiB pipe: limit not in force",
			results: []*runckit.Outcome{ran(1, 65536)},
			profile: large, armed: true,
			want:   report.Inconclusive,
			reason: "only 0 of 1 containers saw shrunk pipes: the soft limit was not in force for them",
		},
		{
			name:    "some containers saw big pipes",
			results: []*runckit.Outcome{ran(1, 8192), ran(2, 65536)},
			profile: large, armed: true,
			want:   report.Inconclusive,
			reason: "only 1 of 2 containers saw shrunk pipes",
		},
		{
			name:    "pipe size unknown is not shrunk",
			results: []*runckit.Outcome{ran(1, 0)},
			profile: large, armed: true,
			want:   report.Inconclusive,
			reason: "not in force",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, err := decide(tt.results, len(tt.results), tt.profile, tt.armed)
			if err != nil {
				t.Fatalf("decide: %v", err)
			}
			if got != tt.want {
				t.Errorf("result = %s, want %s (%s)", got, tt.want, reason)
			}
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}

func manualScript() string {
	art := versions.Artifact{
		Resolved: versions.Resolved{Component: "runc", Version: "v1.0.0-rc93", Sum: "h1:tLhyJOVKTGM3dbfUBfeSCb3R5iMq/5aSaY2BXnD6HIk="},
		BuildCommand: "GOTOOLCHAIN=local CGO_ENABLED=1 GOBIN=$PWD go install -tags seccomp " +
			"-ldflags '-X main.version=1.0.0-rc93 -X main.gitCommit=module-v1.0.0-rc93' github.com/opencontainers/runc@v1.0.0-rc93",
	}
	profile := fixture.Profile{Name: fixture.ProfileLarge, Description: "Docker's default profile plus 640 rules", BPFBytes: 13080}
	return manualSteps(art, profile, "1", "/reports/run-1", "runc")
}

func TestManualStepsContent(t *testing.T) {
	s := manualScript()
	lines := strings.Split(s, "\n")
	index := func(line string) int {
		for i, l := range lines {
			if l == line {
				return i
			}
		}
		t.Errorf("script lacks the line %q:\n%s", line, s)
		return -1
	}
	build := index("GOTOOLCHAIN=local CGO_ENABLED=1 GOBIN=$PWD go install -tags seccomp -ldflags '-X main.version=1.0.0-rc93 -X main.gitCommit=module-v1.0.0-rc93' github.com/opencontainers/runc@v1.0.0-rc93")
	save := index("old=$(cat /proc/sys/fs/pipe-user-pages-soft)")
	arm := index("echo 1 > /proc/sys/fs/pipe-user-pages-soft")
	run := index("./runc --root $PWD/state create --bundle bundle c1 </dev/null >c1.out 2>&1")
	restore := index("echo $old > /proc/sys/fs/pipe-user-pages-soft")
	index("cp /reports/run-1/bundle/config.json bundle/")
	if !(build < save && save < arm && arm < run && run < restore) {
		t.Errorf("order build %d, save %d, arm %d, create %d, restore %d: want increasing", build, save, arm, run, restore)
	}
	for _, want := range []string{
		"runc v1.0.0-rc93, module sum h1:tLhyJOVKTGM3dbfUBfeSCb3R5iMq/5aSaY2BXnD6HIk=",
		"compiles to 13080 bytes with libseccomp",
		"write(2): fd, buffer, 13080 bytes",
		`sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
}

func TestManualStepsIsValidShell(t *testing.T) {
	out, err := exec.Command("sh", "-n", "-c", manualScript()).CombinedOutput()
	if err != nil {
		t.Errorf("sh -n: %v\n%s", err, out)
	}
}

func TestBugAndParams(t *testing.T) {
	s := Scenario{}
	if s.Name() != "runc-pipe-hang" || s.Bug().ID != "containerd#5261" || s.Bug().Fix != "runc#2871" || s.Bug().Component != "runc" {
		t.Errorf("Name, Bug = %q, %+v", s.Name(), s.Bug())
	}
	if c := s.Components(); len(c) != 1 || c[0].Target().Name != "runc" {
		t.Errorf("Components = %+v", c)
	}
	if unprivilegedPipeBytes != 8192 {
		t.Errorf("unprivilegedPipeBytes = %d", unprivilegedPipeBytes)
	}
}

func TestDecideWithoutAttemptsIsInconclusive(t *testing.T) {
	got, reason, err := decide(nil, 3, fixture.Profile{Name: "large", BPFBytes: 13080}, true)
	if err != nil || got != report.Inconclusive || !strings.Contains(reason, "no container") {
		t.Fatalf("decide(nil) = %s, %q, %v; want INCONCLUSIVE 'no container...'", got, reason, err)
	}
}

func TestManualStepsThroughDockerNameTheProfileFile(t *testing.T) {
	art := versions.Artifact{Resolved: versions.Resolved{Version: "v1.0.0-rc93"}, BuildCommand: "true"}
	script := manualSteps(art, fixture.Profile{Name: "large", BPFBytes: 13080}, "1", "/reports/run-1", "docker")
	if !strings.Contains(script, "--security-opt seccomp=/reports/run-1/seccomp.json") {
		t.Fatalf("docker variant missing:\n%s", script)
	}
	if strings.Contains(manualSteps(art, fixture.Profile{}, "1", "/r", "runc"), "docker run") {
		t.Fatal("the bare runc script mentions docker")
	}
}
