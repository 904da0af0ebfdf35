package runc_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/relapse-dev/relapse/harness/results"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The nightly over an upstream's main, end to end, with no network but
// the module proxy: a git repository made here from the served runc
// v1.1.14 stands for upstream. Night 1 its main is the release (the fix
// of runc#2871 in it): the git:<dir>@main row is NOT REPRODUCED. Then
// upstream lands three commits - a harmless one, one that reverts
// runc#2871's fix (fixtures/patches), a harmless one - and night 2 the
// row relapses; relapse nightly bisects it at once and must name the
// planted commit as the first bad one, attached to the cell. Slow (make
// test-slow): runc is built from four commits.
var _ = Describe("a relapse on upstream main is bisected to its commit", suitekit.BugLabels(runcpipehang.Bug, "bisect", "nightly", suitekit.Slow), Ordered, ContinueOnFailure, func() {
	var baseline suitekit.HostBaseline
	BeforeAll(func() {
		baseline = suitekit.TakeBaseline(runcpipehang.SoftLimitKey)
		DeferCleanup(baseline.CheckClean)
	})

	It("flags RELAPSE on night 2 and names the planted commit", SpecTimeout(30*time.Minute), func(ctx SpecContext) {
		start := time.Now()
		bin, err := gexec.Build("github.com/relapse-dev/relapse/cmd/relapse")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(gexec.CleanupBuildArtifacts)

		// The upstream is made the same every run - one path, fixed
		// authors and dates, so the same commits - so relapse's git cache
		// keeps one mirror of it and reuses the runc builds of its commits
		// (a warm run builds nothing) instead of gathering a copy per run.
		upstream, work := filepath.Join(os.TempDir(), "relapse-synthetic-upstream-runc"), GinkgoT().TempDir()
		Expect(os.RemoveAll(upstream)).To(Succeed())
		Expect(os.Mkdir(upstream, 0o755)).To(Succeed())
		DeferCleanup(os.RemoveAll, upstream)
		git := func(args ...string) string {
			GinkgoHelper()
			cmd := exec.CommandContext(ctx, "git", append([]string{"-C", upstream}, args...)...)
			cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=upstream", "GIT_AUTHOR_EMAIL=upstream@localhost", "GIT_AUTHOR_DATE=2026-12-01T00:00:00Z",
				"GIT_COMMITTER_NAME=upstream", "GIT_COMMITTER_EMAIL=upstream@localhost", "GIT_COMMITTER_DATE=2026-12-01T00:00:00Z",
				"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
			out, err := cmd.CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "git %v: %s", args, out)
			return strings.TrimSpace(string(out))
		}
		commit := func(msg string) string {
			GinkgoHelper()
			git("add", "-A")
			git("commit", "-q", "-m", msg)
			return git("rev-parse", "HEAD")
		}
		note := func(name, text string) {
			GinkgoHelper()
			Expect(os.WriteFile(filepath.Join(upstream, name), []byte(text), 0o644)).To(Succeed())
		}

		// The first commit is the release as the proxy serves it (through
		// the module cache relapse builds from), tagged as upstream does.
		release, err := versions.Runc.Resolve(ctx, "1.1.14")
		Expect(err).NotTo(HaveOccurred())
		git("init", "-q", "-b", "main")
		Expect(exec.CommandContext(ctx, "cp", "-R", release.Dir+"/.", upstream).Run()).To(Succeed())
		Expect(exec.CommandContext(ctx, "chmod", "-R", "u+w", upstream).Run()).To(Succeed())
		commit("runc v1.1.14")
		git("tag", "v1.1.14")

		matrixFile := filepath.Join(work, "nightly.yaml")
		Expect(os.WriteFile(matrixFile, []byte("name: synthetic-upstream\ncells:\n  - scenario: runc-pipe-hang\n    versions:\n      runc: [\"git:"+upstream+"@main\"]\n"), 0o644)).To(Succeed())
		store := filepath.Join(work, "store")
		nightly := func(night string) (int, string) {
			GinkgoHelper()
			var out bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, "nightly", "--file", matrixFile, "--store", store, "--night", night,
				"--lock-wait", "20m", "--bisect-deadline", "20m")
			cmd.Stdout, cmd.Stderr = &out, GinkgoWriter
			err := cmd.Run()
			GinkgoWriter.Printf("relapse nightly (%s):\n%s\n", night, out.String())
			if err != nil {
				var ee *exec.ExitError
				Expect(err).To(BeAssignableToTypeOf(ee), "relapse nightly did not run")
			}
			return cmd.ProcessState.ExitCode(), out.String()
		}

		status, _ := nightly("night-1")
		Expect(status).To(Equal(0), "night 1: main is the release, NOT REPRODUCED, nothing flagged")

		note("RELAPSE-NOTES.md", "A harmless change before the planted one.\n")
		commit("docs: a note")
		patch, err := filepath.Abs("../../fixtures/patches/runc/revert-2871-v1.1.14.patch")
		Expect(err).NotTo(HaveOccurred())
		apply := exec.CommandContext(ctx, "patch", "-p1", "--forward", "--batch", "-i", patch)
		apply.Dir = upstream
		out, err := apply.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "patch: %s", out)
		planted := commit("seccomp: export the BPF before reading the pipe")
		note("RELAPSE-NOTES.md", "A harmless change before the planted one.\nAnd one after it.\n")
		commit("docs: another note")

		status, text := nightly("night-2")
		Expect(status).To(Equal(4), "night 2: the row relapsed")
		Expect(text).To(ContainSubstring("RELAPSE"))
		Expect(text).To(ContainSubstring("bisected: first bad runc " + planted[:12]))

		cells, err := filepath.Glob(filepath.Join(store, "night-2", "*", "artifacts", results.BisectDir, results.BisectionName))
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveLen(1))
		data, err := os.ReadFile(cells[0])
		Expect(err).NotTo(HaveOccurred())
		var b results.Bisection
		Expect(json.Unmarshal(data, &b)).To(Succeed())
		Expect(b.FirstBad).To(HavePrefix(planted[:12]), "the first bad commit is the planted one")
		Expect(b.GoodNight).To(Equal("night-1"))
		Expect(b.Missing + b.Error).To(BeEmpty())
		dir := filepath.Dir(cells[0])
		for _, f := range []string{results.BisectPageName, results.BisectSummaryName, "bisect.json"} {
			Expect(filepath.Join(dir, f)).To(BeAnExistingFile())
		}
		summary, err := os.ReadFile(filepath.Join(dir, results.BisectSummaryName))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(summary)).To(ContainSubstring(planted[:12]))
		junit, _ := filepath.Glob(filepath.Join(dir, "steps", "*", "junit*.xml"))
		Expect(junit).To(BeEmpty(), "a step's JUnit would count as the cell's tests")
		dash, err := os.ReadFile(filepath.Join(store, "dashboard.html"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(dash)).To(ContainSubstring("first bad runc " + planted[:12]))
		GinkgoWriter.Printf("synthetic upstream: %d experiments in the bisection (%.0f s), %s in all\n", b.Experiments, b.Seconds, time.Since(start).Round(time.Second))
		baseline.CheckClean()
	})
})
