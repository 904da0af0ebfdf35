package runc_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/relapse-dev/relapse/harness/bisect"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
	"github.com/relapse-dev/relapse/suites/suitekit"
)

// The commit path of `relapse bisect --source`, with no network but the
// module proxy: a throwaway git history whose commits are the source trees
// of served runc releases in order. git bisect run must name the rc93
// commit as where the hang came in and the rc94 commit as where it went.
// Slow (make test-slow): it downloads four runc releases from the module
// proxy and builds each from source, minutes on a fresh machine.
var _ = Describe("bisect over the commits of a checkout", suitekit.BugLabels(runcpipehang.Bug, "bisect", suitekit.Slow), Ordered, ContinueOnFailure, func() {
	var baseline suitekit.HostBaseline
	BeforeAll(func() {
		baseline = suitekit.TakeBaseline(runcpipehang.SoftLimitKey)
		DeferCleanup(baseline.CheckClean)
	})

	It("finds rc93 introduced and rc94 fixed in a synthetic history of release trees", SpecTimeout(20*time.Minute), func(ctx SpecContext) {
		bin, err := gexec.Build("github.com/relapse-dev/relapse/cmd/relapse")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(gexec.CleanupBuildArtifacts)

		repo := GinkgoT().TempDir()
		git := func(args ...string) string {
			GinkgoHelper()
			cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
			cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=relapse", "GIT_AUTHOR_EMAIL=relapse@localhost",
				"GIT_COMMITTER_NAME=relapse", "GIT_COMMITTER_EMAIL=relapse@localhost")
			out, err := cmd.CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "git %v: %s", args, out)
			return strings.TrimSpace(string(out))
		}
		git("init", "-q")
		commits := map[string]string{}
		for _, v := range []string{"v1.0.0-rc92", "v1.0.0-rc93", "v1.0.0-rc94", "v1.0.0-rc95"} {
			out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", "github.com/opencontainers/runc@"+v).Output()
			Expect(err).NotTo(HaveOccurred())
			var mod struct{ Dir string }
			Expect(json.Unmarshal(out, &mod)).To(Succeed())
			// The tree becomes exactly this release's.
			entries, _ := os.ReadDir(repo)
			for _, e := range entries {
				if e.Name() != ".git" {
					Expect(os.RemoveAll(filepath.Join(repo, e.Name()))).To(Succeed())
				}
			}
			Expect(exec.CommandContext(ctx, "cp", "-R", mod.Dir+"/.", repo).Run()).To(Succeed())
			Expect(exec.CommandContext(ctx, "chmod", "-R", "u+w", repo).Run()).To(Succeed())
			git("add", "-A")
			git("commit", "-q", "-m", "runc "+v)
			commits[v] = git("rev-parse", "HEAD")
		}

		reports := GinkgoT().TempDir()
		cmd := exec.CommandContext(ctx, bin, "bisect", "--component", "runc", "--source", repo, "--reports", reports,
			"--good", commits["v1.0.0-rc92"], "--bad", commits["v1.0.0-rc93"], "--good", commits["v1.0.0-rc95"])
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		Expect(cmd.Run()).To(Succeed())

		pages, _ := filepath.Glob(filepath.Join(reports, "bisect-*", "bisect.json"))
		Expect(pages).To(HaveLen(1))
		data, err := os.ReadFile(pages[0])
		Expect(err).NotTo(HaveOccurred())
		var res bisect.Result
		Expect(json.Unmarshal(data, &res)).To(Succeed())
		Expect(res.Boundaries).To(HaveLen(2))
		Expect(res.Boundaries[0].Kind).To(Equal("introduced"))
		Expect(res.Boundaries[0].After).To(HavePrefix(commits["v1.0.0-rc93"][:12]), "the first bad commit is rc93's")
		Expect(res.Boundaries[1].Kind).To(Equal("fixed"))
		Expect(res.Boundaries[1].After).To(HavePrefix(commits["v1.0.0-rc94"][:12]), "the first fixed commit is rc94's")
		var inBisect int
		for _, s := range res.Steps {
			if !s.Endpoint {
				inBisect++
				Expect(s.Commit).To(Equal(commits["v1.0.0-rc94"]), "the one commit git bisect had to test")
				Expect(s.Label).To(Equal(bisect.Good))
			}
		}
		Expect(inBisect).To(Equal(1), "git bisect run tested rc94 between rc93 (bad) and rc95 (good)")
		for _, f := range []string{"bisect.html", "bisect.md"} {
			Expect(filepath.Join(filepath.Dir(pages[0]), f)).To(BeAnExistingFile())
		}
		baseline.CheckClean()
	})
})
