package matrixjob

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
)

func spec() Spec {
	return Spec{Name: "m", Namespace: "ns", Image: "busybox", Cells: 9, Parallelism: 2, Relapse: "/opt/relapse", Repo: "/src/relapse",
		File: "ci/nightly.yaml", Speed: "fast", Canaries: true, Results: "/var/results", State: "/var/lib/relapse/matrix-job",
		LockWait: time.Hour, Path: "/usr/bin:/bin", Sources: "runc=/src/runc"}
}

func TestManifestIsAnIndexedJobOfOneIndexPerCell(t *testing.T) {
	j, err := Manifest(spec())
	if err != nil {
		t.Fatal(err)
	}
	if *j.Spec.CompletionMode != batchv1.IndexedCompletion || *j.Spec.Completions != 9 || *j.Spec.Parallelism != 2 {
		t.Errorf("mode %v completions %d parallelism %d", *j.Spec.CompletionMode, *j.Spec.Completions, *j.Spec.Parallelism)
	}
	pod := j.Spec.Template.Spec
	if !pod.HostPID || !*pod.Containers[0].SecurityContext.Privileged {
		t.Error("the pod must share the node's PID namespace and be privileged to enter the host")
	}
	if *j.Spec.BackoffLimitPerIndex != 0 {
		t.Error("a failed index is retried: its host changes would run twice")
	}
	text, err := YAML(j)
	if err != nil || !strings.Contains(text, "completionMode: Indexed") {
		t.Errorf("YAML: %v\n%s", err, text)
	}
	bad := spec()
	bad.Relapse = ""
	if _, err := Manifest(bad); err == nil || !strings.Contains(err.Error(), "relapse") {
		t.Errorf("missing relapse path: %v", err)
	}
}

// The pod's script: index i runs shard i+1 of n on the host, and a cell's
// verdict (exit 4) is not a failed pod while relapse failing (exit 1) is.
// nsenter is a stand-in here that prints its arguments.
func TestScriptMapsTheIndexToOneCell(t *testing.T) {
	j, err := Manifest(spec())
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	stub := "#!/bin/sh\nprintf '%s\\n' \"$@\"\nexit \"$STUB_EXIT\"\n"
	if err := os.WriteFile(filepath.Join(bin, "nsenter"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	c := j.Spec.Template.Spec.Containers[0]
	for _, tc := range []struct {
		exit, want string
		fails      bool
	}{{"0", "", false}, {"4", "", false}, {"1", "", true}} {
		cmd := exec.Command("sh", "-c", c.Command[2])
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "JOB_COMPLETION_INDEX=2", "STUB_EXIT=" + tc.exit}
		for _, e := range c.Env {
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fails {
			t.Errorf("cell exit %s: pod error %v, want failure %v\n%s", tc.exit, err, tc.fails, out)
		}
		for _, want := range []string{"-t\n1\n-m\n", "RELAPSE_STATE=/var/lib/relapse/matrix-job", "/src/relapse\n/opt/relapse\nmatrix\n",
			"--shard\n3/9\n", "--results\n/var/results/cell-2\n", "--speed\nfast\n",
			// The cells see the checkouts behind git:upstream@<ref> as the listing did.
			"NIGHTLY_SOURCES=runc=/src/runc\n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("cell exit %s: the host command lacks %q:\n%s", tc.exit, want, out)
			}
		}
	}
}
