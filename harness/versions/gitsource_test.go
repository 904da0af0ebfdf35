package versions

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseGit(t *testing.T) {
	for in, want := range map[string]GitSpec{
		"git:/src/runc@main":                              {Remote: "/src/runc", Ref: "main"},
		"git:https://github.com/opencontainers/runc@v1.5": {Remote: "https://github.com/opencontainers/runc", Ref: "v1.5"},
		"git:git@github.com:containerd/containerd@main":   {Remote: "git@github.com:containerd/containerd", Ref: "main"},
	} {
		got, ok, err := ParseGit(in)
		if !ok || err != nil || got != want {
			t.Errorf("ParseGit(%q) = %+v, %v, %v; want %+v", in, got, ok, err, want)
		}
	}
	for in, why := range map[string]string{
		"git:/src/runc":            "want git:<remote>@<ref>",
		"git:@main":                "the remote is empty",
		"git:/src/runc@":           "the ref is empty",
		"git:/src/runc@-f":         "starts with '-'",
		"git:--upload-pack=x@main": "starts with '-'",
		"git:/src/a b@main":        "space or control",
	} {
		if _, ok, err := ParseGit(in); !ok || err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseGit(%q) = ok %v, %v; want an error saying %q", in, ok, err, why)
		}
	}
	if _, ok, _ := ParseGit("1.5.3"); ok {
		t.Error("a version without the prefix was taken for a git source")
	}
}

// A branch is fetched anew on each resolution, so a ref that moves is
// followed; a commit's tree is checked out once and kept.
func TestResolveGitFollowsTheBranch(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed (ci/deps.sh base): %v", err)
	}
	ctx := context.Background()
	upstream, cache := t.TempDir(), t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", upstream}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(msg string) string {
		if err := os.WriteFile(filepath.Join(upstream, "go.mod"), []byte("module github.com/opencontainers/runc\n\n// "+msg+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "go.mod")
		git("commit", "-q", "-m", msg)
		return git("rev-parse", "HEAD")
	}
	git("init", "-q", "-b", "main")
	first := commit("first")
	git("tag", "v1.9.0")

	r, err := Runc.ResolveGit(ctx, GitSpec{Remote: upstream, Ref: "main"}, cache)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source == nil || r.Source.Commit != first || r.Version != "v1.9.0" || r.Requested != "git:"+upstream+"@main" {
		t.Fatalf("main at the tag resolved to %+v (source %+v)", r, r.Source)
	}
	if !strings.Contains(r.Selected, "commit "+first) {
		t.Errorf("Selected = %q; want the commit named", r.Selected)
	}

	second := commit("second")
	r2, err := Runc.ResolveGit(ctx, GitSpec{Remote: upstream, Ref: "main"}, cache)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Source.Commit != second || r2.Dir == r.Dir {
		t.Errorf("after a new commit main resolved to %s in %s; want %s in a tree of its own", r2.Source.Commit, r2.Dir, second)
	}
	if _, err := os.Stat(r.Dir); err != nil {
		t.Errorf("the first commit's tree was not kept: %v", err)
	}
	if r3, err := Runc.ResolveGit(ctx, GitSpec{Remote: upstream, Ref: "v1.9.0"}, cache); err != nil || r3.Source.Commit != first {
		t.Errorf("the tag resolved to %+v, %v; want %s", r3.Source, err, first)
	}
	if _, err := Runc.ResolveGit(ctx, GitSpec{Remote: upstream, Ref: "no-such-branch"}, cache); err == nil || !strings.Contains(err.Error(), "names no commit") {
		t.Errorf("an unknown ref: %v", err)
	}
	if _, err := Containerd.ResolveGit(ctx, GitSpec{Remote: upstream, Ref: "main"}, cache); err == nil || !strings.Contains(err.Error(), "not containerd's") {
		t.Errorf("runc's tree taken for containerd: %v", err)
	}
}
