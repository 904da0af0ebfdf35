package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	resultspkg "github.com/relapse-dev/relapse/harness/results"
)

// workflow is the part of ci/github/nightly.yml these tests read.
type workflow struct {
	Permissions map[string]string `json:"permissions"`
	Env         map[string]string `json:"env"`
	Jobs        map[string]struct {
		Permissions map[string]string `json:"permissions"`
		Steps       []struct {
			Name string            `json:"name"`
			Uses string            `json:"uses"`
			With map[string]any    `json:"with"`
			Env  map[string]string `json:"env"`
			Run  string            `json:"run"`
		} `json:"steps"`
	} `json:"jobs"`
}

func readWorkflow(t *testing.T) workflow {
	t.Helper()
	data, err := os.ReadFile("../../ci/github/nightly.yml")
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// stepScript is the run script of the job's step whose name starts with prefix.
func stepScript(t *testing.T, w workflow, job, prefix string) string {
	t.Helper()
	for _, s := range w.Jobs[job].Steps {
		if strings.HasPrefix(s.Name, prefix) {
			return s.Run
		}
	}
	t.Fatalf("job %s has no step %q", job, prefix)
	return ""
}

// The store is kept where nothing evicts it: not in the Actions cache,
// on a branch only the merge job may write; the jobs that run cells keep
// no token in their checkout.
func TestWorkflowKeepsTheStoreOnABranch(t *testing.T) {
	w := readWorkflow(t)
	if w.Permissions["contents"] != "read" {
		t.Errorf("workflow permissions %v; want contents: read by default", w.Permissions)
	}
	for name, job := range w.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "actions/cache") && strings.Contains(s.With["path"].(string), "store") {
				t.Errorf("job %s keeps the store in the Actions cache (%s), which evicts it", name, s.Uses)
			}
			if strings.HasPrefix(s.Uses, "actions/checkout") && name != "merge" && s.With["persist-credentials"] != false {
				t.Errorf("job %s keeps the token in its checkout", name)
			}
		}
		if job.Permissions["contents"] == "write" && name != "merge" {
			t.Errorf("job %s may write the repository; only merge pushes", name)
		}
	}
	if w.Jobs["merge"].Permissions["contents"] != "write" {
		t.Error("the merge job cannot push the results branch (permissions: contents: write)")
	}
}

// The merge job's two branch steps, run as written against a local
// origin: the first night starts the branch, the second adds to it, a
// night that merged nothing pushes nothing, and what a fresh checkout
// reads back is both nights, in order.
func TestWorkflowResultsBranchRoundTrip(t *testing.T) {
	w := readWorkflow(t)
	fetch := stepScript(t, w, "merge", "The history store from")
	keep := stepScript(t, w, "merge", "Keep the night on")
	branch := w.Env["RESULTS_BRANCH"]
	root := t.TempDir()
	origin := filepath.Join(root, "origin.git")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(root, "init", "-q", "--bare", "-b", "main", origin)
	seed := filepath.Join(root, "seed")
	git(root, "clone", "-q", origin, seed)
	git(seed, "commit", "-q", "--allow-empty", "-m", "the project")
	git(seed, "push", "-q", "origin", "main")
	run := func(dir, script string, env ...string) string {
		t.Helper()
		cmd := exec.Command("bash", "-e", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append(env, "RESULTS_BRANCH="+branch, "GIT_CONFIG_GLOBAL=/dev/null")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	cellDir := func(night string, start int64) string {
		src := filepath.Join(root, "cells-"+night)
		dir := filepath.Join(src, "c")
		if err := os.MkdirAll(filepath.Join(dir, "artifacts"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]any{
			"started.json":  map[string]any{"timestamp": start},
			"finished.json": map[string]any{"timestamp": start + 30, "passed": true, "result": "SUCCESS", "metadata": map[string]string{"cell": "c"}},
		} {
			data, _ := json.Marshal(v)
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return src
	}
	night := func(name string, start int64) {
		checkout := filepath.Join(root, "checkout-"+name)
		git(root, "clone", "-q", origin, checkout)
		run(checkout, fetch)
		if start > 0 {
			if _, err := resultspkg.Merge(filepath.Join(checkout, "store"), name, cellDir(name, start)); err != nil {
				t.Fatal(err)
			}
		}
		out := run(checkout, keep, "NIGHT="+name)
		if start == 0 && !strings.Contains(out, "nothing merged") {
			t.Errorf("a night that merged nothing: %s", out)
		}
	}
	night("run-9", 1000)
	night("run-10", 2000)
	before := git(origin, "rev-parse", branch)
	night("run-11", 0)
	if after := git(origin, "rev-parse", branch); after != before {
		t.Errorf("a night that merged nothing pushed %s over %s", after, before)
	}
	if n := git(origin, "rev-list", "--count", branch); n != "2" {
		t.Errorf("the branch has %s commits; want one per merged night (2)", n)
	}
	readBack := filepath.Join(root, "read-back")
	git(root, "clone", "-q", "--branch", branch, origin, readBack)
	nights, byNight, err := resultspkg.Load(readBack)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(nights, ",") != "run-9,run-10" || len(byNight["run-10"]) != 1 {
		t.Errorf("read back nights %v; want run-9,run-10 with their cell", nights)
	}
}
