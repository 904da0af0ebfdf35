package versions

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEmbeddedContainerdPins(t *testing.T) {
	if Containerd.Name != "containerd" || Containerd.Module != "github.com/containerd/containerd" {
		t.Errorf("Containerd = %q %q", Containerd.Name, Containerd.Module)
	}
	for _, alias := range []string{"1.5.18", "1.6.0", "1.6.1", "1.6.2", "1.6.3", "1.6.20", "1.7.0"} {
		p, ok := Containerd.lookup(alias)
		if !ok || p.Version != "v"+alias {
			t.Errorf("lookup(%q) = %+v, %v; want v%s", alias, p, ok, alias)
		}
	}
	for in, want := range map[string]string{"1.6.2": "v1.6.2", "v1.6.3": "v1.6.3", "1.6.36": "v1.6.36"} {
		if got, err := Containerd.Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if ContainerdRecipe.Component.Name != "containerd" {
		t.Errorf("ContainerdRecipe.Component = %+v", ContainerdRecipe.Component)
	}
}

func TestContainerdRecipeArgs(t *testing.T) {
	r := Resolved{Component: "containerd", Module: "github.com/containerd/containerd", Version: "v1.6.2"}
	want := []string{"build", "-mod=readonly", "-buildvcs=false", "-trimpath", "-tags", "no_btrfs",
		"-ldflags", "-X github.com/containerd/containerd/version.Version=v1.6.2 -X github.com/containerd/containerd/version.Revision=module-v1.6.2",
		"-o", "/out/containerd-shim-runc-v2", "./cmd/containerd-shim-runc-v2"}
	if got := ContainerdRecipe.args(r, "containerd-shim-runc-v2", "/out/containerd-shim-runc-v2", false); !reflect.DeepEqual(got, want) {
		t.Errorf("args =\n%q\nwant\n%q", got, want)
	}
	if got, want := ContainerdRecipe.names(), []string{"containerd", "containerd-shim-runc-v2", "ctr"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
}

func TestTreeRecipeArgsBare(t *testing.T) {
	tr := TreeRecipe{Component: Component{Module: "example.com/m"}, Binaries: map[string]string{"x": "./cmd/x"}}
	want := []string{"build", "-mod=readonly", "-buildvcs=false", "-trimpath", "-o", "o/x", "./cmd/x"}
	if got := tr.args(Resolved{Version: "v1.0.0"}, "x", "o/x", false); !reflect.DeepEqual(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
}

func TestContainerdRecipeCommand(t *testing.T) {
	r := Resolved{Version: "v1.6.0"}
	got := ContainerdRecipe.command(r, []string{".empty-mod"}, false)
	want := `(set -e; out=$PWD; tmp=$(mktemp -d); cd "$tmp"
 export GOTOOLCHAIN=local CGO_ENABLED=1
 go mod download github.com/containerd/containerd@v1.6.0
 cp -R "$(go list -m -f '{{.Dir}}' github.com/containerd/containerd@v1.6.0)" src; chmod -R u+w src; rm -rf src/vendor; cd src
 mkdir -p .empty-mod; echo 'module empty-mod' > .empty-mod/go.mod
 go build -mod=readonly -buildvcs=false -trimpath -tags no_btrfs -ldflags '-X github.com/containerd/containerd/version.Version=v1.6.0 -X github.com/containerd/containerd/version.Revision=module-v1.6.0' -o "$out/containerd" ./cmd/containerd
 go build -mod=readonly -buildvcs=false -trimpath -tags no_btrfs -ldflags '-X github.com/containerd/containerd/version.Version=v1.6.0 -X github.com/containerd/containerd/version.Revision=module-v1.6.0' -o "$out/containerd-shim-runc-v2" ./cmd/containerd-shim-runc-v2
 go build -mod=readonly -buildvcs=false -trimpath -tags no_btrfs -ldflags '-X github.com/containerd/containerd/version.Version=v1.6.0 -X github.com/containerd/containerd/version.Revision=module-v1.6.0' -o "$out/ctr" ./cmd/ctr
 cd "$out"; rm -rf "$tmp")`
	if got != want {
		t.Errorf("command =\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(ContainerdRecipe.command(Resolved{Version: "v1.6.2"}, nil, false), "empty-mod") {
		t.Error("command without missing replace targets mentions empty-mod")
	}
}

func TestLocalReplaceTargets(t *testing.T) {
	const gomod = `module github.com/containerd/containerd

go 1.16

require github.com/x/y v1.0.0

replace github.com/single => ./single-dir // a comment

replace (
	// prevent transitional dependencies due to containerd having a circular
	// dependency on itself through plugins. see .empty-mod/go.mod for details
	github.com/containerd/containerd => ./.empty-mod/
	github.com/gogo/googleapis => github.com/gogo/googleapis v1.3.2
	github.com/a v1.2.0 => ./a/../b
	github.com/outside => ../outside
	github.com/abs => /abs/path
	github.com/dot => ./
)

require (
	github.com/not/replace v1.0.0 // ./looks-local
)
`
	want := []string{"single-dir", ".empty-mod", "b"}
	if got, err := localReplaceTargets(gomod); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("localReplaceTargets = %q, %v; want %q", got, err, want)
	}
}

func TestMissingReplaceDirs(t *testing.T) {
	dir := t.TempDir()
	gomod := "module m\n\nreplace (\n\tm1 => ./.empty-mod/\n\tm2 => ./present\n)\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "present"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := missingReplaceDirs(dir)
	if err != nil || !reflect.DeepEqual(got, []string{".empty-mod"}) {
		t.Errorf("missingReplaceDirs = %q, %v; want [.empty-mod]", got, err)
	}
	if got := emptyModule(".empty-mod"); got != "module empty-mod\n" {
		t.Errorf("emptyModule = %q", got)
	}
	if _, err := missingReplaceDirs(t.TempDir()); err == nil {
		t.Error("missingReplaceDirs without go.mod: no error")
	}
}

func TestCopyModuleDropsVendorAndMakesWritable(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	for name, body := range map[string]string{
		"go.mod":                 "module m\n",
		"cmd/x/main.go":          "package main\n",
		"vendor/modules.txt":     "# stale\n",
		"pkg/vendor/keep.go":     "package vendor\n",
		"cmd/x/testdata/ro.json": "{}",
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyModule(src, dst); err != nil {
		t.Fatalf("copyModule: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "vendor")); !os.IsNotExist(err) {
		t.Errorf("vendor/ was copied (stat err %v)", err)
	}
	for _, name := range []string{"go.mod", "cmd/x/main.go", "pkg/vendor/keep.go", "cmd/x/testdata/ro.json"} {
		st, err := os.Stat(filepath.Join(dst, name))
		if err != nil {
			t.Errorf("%s not copied: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", name, st.Mode().Perm())
		}
	}
}

// TestTreeRecipeBuildsFakeModule builds a two-binary module offline: stale
// vendor/modules.txt, a replace into a left-out nested module, version
// stamping, then a cache hit. go 1.16 as in containerd 1.6.0: without graph
// pruning the go command reads the replaced go.mod even though nothing
// imports from it.
func TestTreeRecipeBuildsFakeModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	src := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/fake\n\ngo 1.16\n\nrequire example.com/dep v1.0.0\n\n" +
			"replace (\n\texample.com/dep => ./.empty-mod/ // left out of the zip\n)\n",
		"vendor/modules.txt": "# example.com/dep v1.0.0 => ./.empty-mod/\n## explicit\n",
		"version/version.go": "package version\n\nvar Version = \"unknown\"\n",
		"cmd/a/main.go":      "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/fake/version\"\n)\n\nfunc main() { fmt.Println(\"a\", version.Version) }\n",
		"cmd/b/main.go":      "package main\n\nfunc main() { println(\"b\") }\n",
	}
	writeFiles(t, src, files, 0o444)
	tr := TreeRecipe{
		Component: Component{Name: "fake", Module: "example.com/fake"},
		Binaries:  map[string]string{"fake-a": "cmd/a", "fake-b": "cmd/b"},
		Tags:      []string{"t1"},
		LDFlags:   func(r Resolved) string { return "-X example.com/fake/version.Version=" + r.Version },
	}
	r := Resolved{Component: "fake", Module: "example.com/fake", Version: "v0.1.0", Sum: "h1:fake", Dir: src}
	cache := t.TempDir()
	art, err := tr.Build(context.Background(), r, cache)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if art.Cached || !strings.HasSuffix(art.CacheKey, "_t1") || art.Path != filepath.Join(cache, "builds", "fake", art.CacheKey) {
		t.Errorf("artifact = %+v", art)
	}
	out, err := exec.Command(filepath.Join(art.Path, "fake-a")).Output()
	if err != nil || string(out) != "a v0.1.0\n" {
		t.Errorf("fake-a printed %q, %v; want \"a v0.1.0\"", out, err)
	}
	if !strings.Contains(art.BuildCommand, "mkdir -p .empty-mod") {
		t.Errorf("BuildCommand lacks the empty module step:\n%s", art.BuildCommand)
	}
	entries, _ := filepath.Glob(filepath.Join(art.Path, "tree-*"))
	if len(entries) != 0 {
		t.Errorf("temporary trees left in the cache: %q", entries)
	}
	again, err := tr.Build(context.Background(), r, cache)
	if err != nil || !again.Cached || again.Path != art.Path {
		t.Errorf("second Build = %+v, %v; want a cache hit", again, err)
	}
	if err := os.Remove(filepath.Join(art.Path, "fake-b")); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := tr.Build(context.Background(), r, cache)
	if err != nil || rebuilt.Cached {
		t.Errorf("Build with a binary missing = cached %v, %v; want a rebuild", rebuilt.Cached, err)
	}
}

// writeFiles lays out a tree of test files below root.
func writeFiles(t *testing.T, root string, files map[string]string, mode os.FileMode) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
}
