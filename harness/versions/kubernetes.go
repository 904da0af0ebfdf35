package versions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/relapse-dev/relapse/harness/textutil"
)

// Kubernetes is the cluster software: kubelet, the control plane and kubectl.
var Kubernetes = mustComponent("kubernetes", "k8s.io/kubernetes",
	// kubernetes.io/releases: "The Kubernetes project maintains release
	// branches for the most recent three minor releases".
	Maintenance{NewestLines: 3, Source: "kubernetes.io/releases: the most recent three minor releases (read 2026-12-06)"})

// KubeBinary is one command of k8s.io/kubernetes.
type KubeBinary struct {
	Name string
	// Package is the main package path inside the module ("cmd/kubelet").
	Package string
	// CGO links the binary with cgo, as upstream's release builds do for
	// kubelet; the others upstream builds static (CGO_ENABLED=0).
	CGO bool
}

// KubeRecipe builds commands of k8s.io/kubernetes, which neither
// `go install pkg@version` nor a copy of the module source can build: its
// go.mod replaces the k8s.io/* staging modules with ./staging/src/k8s.io/NAME,
// directories the module zip leaves out (they are modules of their own).
//
// The build runs in a generated wrapper module that requires
// k8s.io/kubernetes at the version and repeats every replace directive of
// its go.mod, a staging directory becoming the published staging module of
// the same release (./staging/src/k8s.io/api => k8s.io/api v0.30.14 for
// v1.30.14). The release's own replace directives pin every other
// dependency, so the build uses the versions upstream built with. The
// go command fills in the wrapper's go.sum (-mod=mod; GONOSUMDB=k8s.io,
// since checksum look-ups of k8s.io modules fail through some proxies).
//
// Two repairs make old releases build (1.19 needs both):
//   - a replace target whose host is gone is redirected (vbom.ml/util is
//     served as github.com/fvbommel/util at the same pseudo-version);
//   - when the release did not commit pkg/generated/openapi/zz_generated.openapi.go
//     (kube-apiserver needs it), the build copies the module source into a
//     writable directory, runs the release's own k8s.io/kube-openapi
//     openapi-gen over the packages tagged +k8s:openapi-gen that
//     kube-apiserver imports, and replaces k8s.io/kubernetes with the copy.
//     (Upstream's Makefile feeds it every tagged package of the tree, which
//     adds component-config types no server serves; for v1.19.3 the API
//     rule report is a subset of upstream's known-violation list.)
//
// Versions are stamped as upstream's hack/lib/version.sh does (gitVersion,
// gitMajor, gitMinor, buildDate in k8s.io/component-base/version and
// k8s.io/client-go/pkg/version); buildDate is the release commit's time from
// the module proxy, so a rebuild gives the same binaries.
//
// All binaries go into one cache entry, keyed like TreeRecipe's; the
// Artifact's Path is that directory (binary NAME is
// filepath.Join(art.Path, NAME)). The entry also keeps the wrapper's go.mod
// and go.sum (wrapper.go.mod, wrapper.go.sum): the exact dependency set.
type KubeRecipe struct {
	Component Component
	Binaries  []KubeBinary
}

// KubernetesRecipe builds kubelet (with cgo) and kube-apiserver,
// kube-controller-manager, kube-scheduler, kubectl and kubeadm (static;
// kubeadm is what kind nodes are set up with).
var KubernetesRecipe = KubeRecipe{
	Component: Kubernetes,
	Binaries: []KubeBinary{
		{Name: "kubelet", Package: "cmd/kubelet", CGO: true},
		{Name: "kube-apiserver", Package: "cmd/kube-apiserver"},
		{Name: "kube-controller-manager", Package: "cmd/kube-controller-manager"},
		{Name: "kube-scheduler", Package: "cmd/kube-scheduler"},
		{Name: "kubectl", Package: "cmd/kubectl"},
		{Name: "kubeadm", Package: "cmd/kubeadm"},
	},
}

// Target is the component the recipe builds.
func (kr KubeRecipe) Target() Component { return kr.Component }

const (
	// kubeWrapperModule is the module path of the generated wrapper.
	kubeWrapperModule = "relapse.local/kubernetes-build"
	// kubeSourceCopy is where, relative to the wrapper, the writable copy
	// of the module source goes when OpenAPI code must be generated.
	kubeSourceCopy = "src"
	kubeOpenAPIPkg = "pkg/generated/openapi"
	kubeOpenAPIGen = "k8s.io/kube-openapi/cmd/openapi-gen"
	// kubeOpenAPIFile is what openapi-gen writes, relative to its output base.
	kubeOpenAPIFile = "k8s.io/kubernetes/" + kubeOpenAPIPkg + "/zz_generated.openapi.go"
	// kubeTailLines is how much of a failing command's output an error keeps.
	kubeTailLines = 40
)

// kubeMovedModules maps replace targets whose import path no longer
// resolves to where the same code is served now.
var kubeMovedModules = map[string]string{
	"vbom.ml/util": "github.com/fvbommel/util",
}

// kubeVersionPackages are the packages upstream stamps the version into.
var kubeVersionPackages = []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"}

// kubePlan is everything a build of one version does, worked out before
// anything runs.
type kubePlan struct {
	version string
	goMod   string
	ldflags string
	// openAPI is true when the release lacks the generated OpenAPI code.
	openAPI bool
	// patches are applied to the copy of the module source.
	patches []Patch
	// header is the boilerplate file (relative to the wrapper) openapi-gen
	// puts on top of the generated file ("" for none).
	header string
}

// Build returns the directory holding the binaries for r, from the cache
// when they are all there. r must come from Component.Resolve: the build
// reads the release's go.mod from r.Dir.
func (kr KubeRecipe) Build(ctx context.Context, r Resolved, cacheRoot string) (Artifact, error) {
	if r.Dir == "" {
		return Artifact{Resolved: r}, fmt.Errorf("building %s %s: no module source (resolve the version first)", kr.Component.Name, r.Version)
	}
	plan, err := kr.plan(ctx, r)
	if err != nil {
		return Artifact{Resolved: r}, err
	}
	command := kr.command(plan)
	return cacheEntry{component: kr.Component.Name, outputs: kr.names(), command: command,
		build: func(dir string) error { return kr.build(ctx, r, plan, command, dir) },
	}.get(ctx, r, cacheRoot)
}

// copySource is true when the build needs a writable copy of the module
// source: to generate OpenAPI code into it, or to patch it.
func (p kubePlan) copySource() bool { return p.openAPI || len(p.patches) > 0 }

// plan reads the release's go.mod and commit time and decides the build.
func (kr KubeRecipe) plan(ctx context.Context, r Resolved) (kubePlan, error) {
	gomod, err := os.ReadFile(filepath.Join(r.Dir, "go.mod"))
	if err != nil {
		return kubePlan{}, fmt.Errorf("building %s %s: reading its go.mod: %w", kr.Component.Name, r.Version, err)
	}
	if r.Source != nil {
		return kubePlan{}, fmt.Errorf("building %s from a local tree is not supported (its staging modules need the release's replace directives); patch a release with --patch instead", kr.Component.Name)
	}
	p := kubePlan{version: r.Version, patches: r.Patches}
	_, err = os.Stat(filepath.Join(r.Dir, kubeOpenAPIPkg, "zz_generated.openapi.go"))
	p.openAPI = errors.Is(err, fs.ErrNotExist)
	local := ""
	if p.copySource() {
		local = "./" + kubeSourceCopy
		if fileExists(filepath.Join(r.Dir, "hack/boilerplate/boilerplate.generatego.txt")) {
			p.header = kubeSourceCopy + "/hack/boilerplate/boilerplate.generatego.txt"
		}
	}
	if p.goMod, err = kubeWrapperGoMod(string(gomod), r.Version, local); err != nil {
		return kubePlan{}, fmt.Errorf("building %s %s: %w", kr.Component.Name, r.Version, err)
	}
	// A missing commit time only leaves buildDate unstamped.
	built, _ := moduleTime(ctx, r.Module, r.Version)
	p.ldflags = kubeLDFlags(r.Version, built)
	return p, nil
}

func (kr KubeRecipe) build(ctx context.Context, r Resolved, p kubePlan, command, dir string) error {
	// Written first, so a failed build can be repeated by hand.
	script := filepath.Join(dir, "build-command.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n# Builds "+kr.Component.Module+" "+r.Version+
		" into the current directory, as relapse did.\n"+command+"\n"), 0o755); err != nil {
		return err
	}
	fail := func(step string, err error) error {
		return fmt.Errorf("building %s %s: %s: %w\n(the whole build by hand: %s)", kr.Component.Name, r.Version, step, err, script)
	}
	tmp, err := os.MkdirTemp(dir, "wrapper-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if p.copySource() {
		if err := copyModule(r.Dir, filepath.Join(tmp, kubeSourceCopy)); err != nil {
			return fail("copying the module source", err)
		}
		if err := applyPatches(ctx, filepath.Join(tmp, kubeSourceCopy), p.patches); err != nil {
			return fail("patching", err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte(p.goMod), 0o644); err != nil {
		return err
	}
	if p.openAPI {
		if err := kr.generateOpenAPI(ctx, p, tmp); err != nil {
			return fail("generating OpenAPI code", err)
		}
	}
	out := filepath.Join(tmp, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, g := range kr.groups() {
		args := kubeBuildArgs(p.ldflags, "out", kr.packages(g.binaries))
		if _, err := runKube(ctx, tmp, g.cgo, "go", args...); err != nil {
			return fail("compiling", err)
		}
	}
	for _, name := range kr.names() {
		if err := os.Rename(filepath.Join(out, name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("moving %s into the cache: %w", name, err)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(tmp, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "wrapper."+f), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// generateOpenAPI writes pkg/generated/openapi/zz_generated.openapi.go into
// the source copy, with the openapi-gen the release pins.
func (kr KubeRecipe) generateOpenAPI(ctx context.Context, p kubePlan, wrapper string) error {
	if _, err := runKube(ctx, wrapper, false, "go", "build", "-buildvcs=false", "-trimpath", "-o", "bin/openapi-gen", kubeOpenAPIGen); err != nil {
		return err
	}
	listed, err := runKube(ctx, wrapper, false, "go", "list", "-e", "-deps", "-f", kubeListFormat, kr.Component.Module+"/cmd/kube-apiserver")
	if err != nil {
		return err
	}
	pkgs, err := openAPIPackages(listed)
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		return errors.New("no package kube-apiserver imports has a +k8s:openapi-gen tag")
	}
	if _, err := runKube(ctx, wrapper, false, "bin/openapi-gen", kubeOpenAPIArgs(p, pkgs)...); err != nil {
		return err
	}
	generated := filepath.Join(wrapper, "gen", kubeOpenAPIFile)
	info, err := os.Stat(generated)
	if err != nil {
		return fmt.Errorf("openapi-gen wrote no %s: %w", kubeOpenAPIFile, err)
	}
	return copyFile(generated, filepath.Join(wrapper, kubeSourceCopy, kubeOpenAPIPkg, "zz_generated.openapi.go"), info.Mode().Perm())
}

// kubeListFormat prints "importpath dir" for each non-standard package.
const kubeListFormat = "{{if not .Standard}}{{.ImportPath}} {{.Dir}}{{end}}"

// openAPIPackages picks, from `go list -f kubeListFormat` output, the
// packages with a +k8s:openapi-gen tag in a Go file of their directory,
// sorted. Like upstream's Makefile it leaves out code-generator's and
// sample-apiserver's examples.
func openAPIPackages(listed string) ([]string, error) {
	var pkgs []string
	for _, line := range strings.Split(listed, "\n") {
		path, dir, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || dir == "" || strings.HasPrefix(path, "k8s.io/code-generator/") || strings.HasPrefix(path, "k8s.io/sample-apiserver/") {
			continue
		}
		tagged, err := dirHasOpenAPITag(dir)
		if err != nil {
			return nil, err
		}
		if tagged {
			pkgs = append(pkgs, path)
		}
	}
	sort.Strings(pkgs)
	return pkgs, nil
}

func dirHasOpenAPITag(dir string) (bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return false, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		if hasOpenAPITag(string(data)) {
			return true, nil
		}
	}
	return false, nil
}

var openAPITag = regexp.MustCompile(`(?m)^// *\+k8s:openapi-gen=`)

// hasOpenAPITag says whether Go source carries a +k8s:openapi-gen=... tag
// comment, the way upstream's Makefile greps for it.
func hasOpenAPITag(src string) bool { return openAPITag.MatchString(src) }

// kubeOpenAPIArgs are openapi-gen's arguments, run in the wrapper: output
// under gen/, API rule violations into a report file (reported on stdout,
// they would fail the run, as upstream's known-violation list is not used).
func kubeOpenAPIArgs(p kubePlan, pkgs []string) []string {
	args := []string{"--logtostderr", "-i", strings.Join(pkgs, ","),
		"-p", "k8s.io/kubernetes/" + kubeOpenAPIPkg, "-O", "zz_generated.openapi", "-o", "gen",
		"-r", "gen/api-violations.report"}
	if p.header != "" {
		args = append(args, "-h", p.header)
	} else {
		args = append(args, "-h", "/dev/null")
	}
	return args
}

// kubeGroup is the binaries one `go build` makes: all with cgo or all without.
type kubeGroup struct {
	cgo      bool
	binaries []KubeBinary
}

// groups splits the binaries by cgo, static ones first, keeping their order.
func (kr KubeRecipe) groups() []kubeGroup {
	var static, cgo []KubeBinary
	for _, b := range kr.Binaries {
		if b.CGO {
			cgo = append(cgo, b)
		} else {
			static = append(static, b)
		}
	}
	var gs []kubeGroup
	if len(static) > 0 {
		gs = append(gs, kubeGroup{cgo: false, binaries: static})
	}
	if len(cgo) > 0 {
		gs = append(gs, kubeGroup{cgo: true, binaries: cgo})
	}
	return gs
}

func (kr KubeRecipe) names() []string {
	names := make([]string, len(kr.Binaries))
	for i, b := range kr.Binaries {
		names[i] = b.Name
	}
	return names
}

func (kr KubeRecipe) packages(bs []KubeBinary) []string {
	pkgs := make([]string, len(bs))
	for i, b := range bs {
		pkgs[i] = kr.Component.Module + "/" + strings.TrimPrefix(b.Package, "./")
	}
	return pkgs
}

// kubeBuildArgs are the `go build` arguments, run in the wrapper; with
// several packages, -o names a directory and each binary is named after
// its package's last element.
func kubeBuildArgs(ldflags, outDir string, pkgs []string) []string {
	args := []string{"build", "-buildvcs=false", "-trimpath", "-ldflags", ldflags}
	if len(pkgs) > 1 {
		outDir += "/"
	} else if len(pkgs) == 1 {
		outDir += "/" + pkgs[0][strings.LastIndex(pkgs[0], "/")+1:]
	}
	args = append(args, "-o", outDir)
	return append(args, pkgs...)
}

// kubeEnv is the environment of every step. GOFLAGS=-mod=mod lets the
// go command write the wrapper's go.sum (and reaches the go commands
// openapi-gen starts); GOWORK=off keeps a workspace above the cache out.
func kubeEnv(cgo bool) []string {
	nosum := "k8s.io"
	if v := os.Getenv("GONOSUMDB"); v != "" {
		nosum = v + "," + nosum
	}
	cgoEnabled := "0"
	if cgo {
		cgoEnabled = "1"
	}
	return append(goEnv(), "GONOSUMDB="+nosum, "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED="+cgoEnabled)
}

// runKube runs one step in dir and returns its standard output. A failure
// names the command and ends with the tail of its output.
func runKube(ctx context.Context, dir string, cgo bool, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = kubeEnv(cgo)
	var stdout, both tailBuffer
	stdout.keepAll = true
	cmd.Stdout = multiWriter{&stdout, &both}
	cmd.Stderr = &both
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("`%s` failed after %.0fs: %w\n%s", kubeStepLine(cgo, name, args),
			time.Since(start).Seconds(), err, textutil.LastLines(both.String(), kubeTailLines))
	}
	return stdout.String(), nil
}

func kubeStepLine(cgo bool, name string, args []string) string {
	c := "0"
	if cgo {
		c = "1"
	}
	return "CGO_ENABLED=" + c + " " + name + " " + textutil.ShellQuote(args...)
}

// tailBuffer collects output; unless keepAll it keeps only the last 256 KiB.
type tailBuffer struct {
	buf     []byte
	keepAll bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	const keep = 256 << 10
	t.buf = append(t.buf, p...)
	if !t.keepAll && len(t.buf) > 2*keep {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-keep:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

type multiWriter []*tailBuffer

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p)
	}
	return len(p), nil
}

// kubeLDFlags stamps the version the way upstream's hack/lib/version.sh
// does for a tagged release: gitMinor gets a "+" for a pre-release.
// gitCommit and gitTreeState stay unset: a module zip has no commit.
func kubeLDFlags(version string, buildDate time.Time) string {
	var vars [][2]string
	vars = append(vars, [2]string{"gitVersion", version})
	if m := kubeVersionRE.FindStringSubmatch(version); m != nil {
		minor := m[2]
		if m[4] != "" {
			minor += "+"
		}
		vars = append(vars, [2]string{"gitMajor", m[1]}, [2]string{"gitMinor", minor})
	}
	if !buildDate.IsZero() {
		vars = append(vars, [2]string{"buildDate", buildDate.UTC().Format("2006-01-02T15:04:05Z")})
	}
	var flags []string
	for _, pkg := range kubeVersionPackages {
		for _, v := range vars {
			flags = append(flags, "-X "+pkg+"."+v[0]+"="+v[1])
		}
	}
	return strings.Join(flags, " ")
}

// kubeVersionRE is version.sh's pattern for major, minor and a suffix.
var kubeVersionRE = regexp.MustCompile(`^v([0-9]+)\.([0-9]+)(\.[0-9]+)?(-[^+]*)?(\+.*)?$`)

// kubeStagingVersion is the version of the staging modules (k8s.io/api,
// ...) published with a release: v1.Y.Z is v0.Y.Z.
func kubeStagingVersion(version string) (string, error) {
	rest, ok := strings.CutPrefix(version, "v1.")
	if !ok || rest == "" {
		return "", fmt.Errorf("%s is not a Kubernetes 1.x version: no staging module version for it", version)
	}
	return "v0." + rest, nil
}

// modReplace is one replace directive: Old [OldVersion] => New [NewVersion].
type modReplace struct {
	Old, OldVersion, New, NewVersion string
}

func (m modReplace) String() string {
	s := m.Old
	if m.OldVersion != "" {
		s += " " + m.OldVersion
	}
	s += " => " + m.New
	if m.NewVersion != "" {
		s += " " + m.NewVersion
	}
	return s
}

// goModDirectives returns the replace directives of a go.mod in file order,
// its go version and its godebug settings (key=value), as the go command
// reads them (modfile, strict: a garbled line is an error naming it).
func goModDirectives(gomod string) (replaces []modReplace, goVersion string, godebug []string, err error) {
	f, err := modfile.Parse("go.mod", []byte(gomod), nil)
	if err != nil {
		return nil, "", nil, fmt.Errorf("reading go.mod: %w", err)
	}
	if f.Go != nil {
		goVersion = f.Go.Version
	}
	for _, d := range f.Godebug {
		godebug = append(godebug, d.Key+"="+d.Value)
	}
	for _, r := range f.Replace {
		replaces = append(replaces, modReplace{Old: r.Old.Path, OldVersion: r.Old.Version, New: r.New.Path, NewVersion: r.New.Version})
	}
	return replaces, goVersion, godebug, nil
}

// kubeRewriteReplace turns a replace directive of k8s.io/kubernetes's
// go.mod into one that works from another module: a staging directory
// becomes the staging module of the release, a moved module its new path.
func kubeRewriteReplace(r modReplace, stagingVersion string) (modReplace, error) {
	if strings.HasPrefix(r.New, "./") || strings.HasPrefix(r.New, "../") || filepath.IsAbs(r.New) {
		name, ok := strings.CutPrefix(filepath.ToSlash(filepath.Clean(r.New)), "staging/src/k8s.io/")
		if !ok || name == "" || strings.Contains(name, "/") {
			return r, fmt.Errorf("replace %s: a directory that is not a staging module; no published module stands for it", r)
		}
		r.New, r.NewVersion = "k8s.io/"+name, stagingVersion
		return r, nil
	}
	if moved, ok := kubeMovedModules[r.New]; ok {
		r.New = moved
	}
	if fix, ok := kubeToolchainFixes[r.Old]; ok && r.New == r.Old && semver.Compare(r.NewVersion, fix) < 0 {
		r.NewVersion = fix
	}
	return r, nil
}

// kubeToolchainFixes are the oldest versions of modules that work with the
// Go relapse builds with, for releases that pinned older ones by replace:
// reflect2 before v1.0.2 reads map internals that changed in Go 1.18, and
// json-iterator's map encoding then dereferences nil (kubeadm 1.19.3 panics
// writing admin.conf; upstream built it with go1.15).
var kubeToolchainFixes = map[string]string{
	"github.com/modern-go/reflect2": "v1.0.2",
}

// kubeWrapperGoMod is the go.mod of a module that builds k8s.io/kubernetes
// at version, from the release's go.mod text. localSource, when set,
// replaces k8s.io/kubernetes with that directory (relative to the wrapper).
func kubeWrapperGoMod(upstream, version, localSource string) (string, error) {
	staging, err := kubeStagingVersion(version)
	if err != nil {
		return "", err
	}
	replaces, goVersion, godebug, err := goModDirectives(upstream)
	if err != nil {
		return "", err
	}
	if goVersion == "" {
		return "", errors.New("k8s.io/kubernetes's go.mod has no go directive")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// Generated by relapse to build k8s.io/kubernetes %s outside its own tree:\n", version)
	fmt.Fprintf(&b, "// its replace directives, with staging directories as the %s staging modules.\n", staging)
	fmt.Fprintf(&b, "module %s\n\ngo %s\n", kubeWrapperModule, goVersion)
	for _, d := range godebug {
		fmt.Fprintf(&b, "\ngodebug %s\n", d)
	}
	fmt.Fprintf(&b, "\nrequire k8s.io/kubernetes %s\n\nreplace (\n", version)
	for _, r := range replaces {
		if r.Old == "k8s.io/kubernetes" {
			continue
		}
		nr, err := kubeRewriteReplace(r, staging)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\t%s\n", nr)
	}
	if localSource != "" {
		fmt.Fprintf(&b, "\tk8s.io/kubernetes => %s\n", localSource)
	}
	b.WriteString(")\n")
	return b.String(), nil
}

// moduleTime is the commit time the module proxy gives a version (the
// .info file `go mod download` leaves in the module cache).
func moduleTime(ctx context.Context, module, version string) (time.Time, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Env = kubeEnv(false)
	cmd.Dir = ModuleFreeDir
	out, err := cmd.Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	var dl struct{ Info string }
	if err := json.Unmarshal(out, &dl); err != nil || dl.Info == "" {
		return time.Time{}, fmt.Errorf("go mod download %s@%s: no .info file", module, version)
	}
	data, err := os.ReadFile(dl.Info)
	if err != nil {
		return time.Time{}, err
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(data, &info); err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", dl.Info, err)
	}
	return info.Time, nil
}

// command is a shell snippet that builds the binaries into the current
// directory the way Build does. It runs in a subshell, so `set -e`, cd and
// the exports stay inside.
func (kr KubeRecipe) command(p kubePlan) string {
	mod := kr.Component.Module + "@" + p.version
	lines := []string{
		"(set -e; out=$PWD; tmp=$(mktemp -d); cd \"$tmp\"",
		" export GOTOOLCHAIN=local GONOSUMDB=k8s.io GOFLAGS=-mod=mod GOWORK=off",
	}
	if p.copySource() {
		lines = append(lines,
			" go mod download "+mod,
			" cp -R \"$(go list -m -f '{{.Dir}}' "+mod+")\" "+kubeSourceCopy+"; chmod -R u+w "+kubeSourceCopy+"; rm -rf "+kubeSourceCopy+"/vendor")
		if len(p.patches) > 0 {
			lines = append(lines, " (cd "+kubeSourceCopy)
			lines = append(lines, patchCommands(p.patches)...)
			lines = append(lines, " )")
		}
	}
	lines = append(lines, " cat > go.mod <<'EOF'")
	lines = append(lines, strings.Split(strings.TrimRight(p.goMod, "\n"), "\n")...)
	lines = append(lines, "EOF")
	if p.openAPI {
		lines = append(lines,
			" go build -buildvcs=false -trimpath -o bin/openapi-gen "+kubeOpenAPIGen,
			" pkgs=$(go list -e -deps -f '"+kubeListFormat+"' "+kr.Component.Module+"/cmd/kube-apiserver |",
			"   while read -r p d; do case $p in k8s.io/code-generator/*|k8s.io/sample-apiserver/*) continue;; esac",
			"   grep -qs '^// *+k8s:openapi-gen=' \"$d\"/*.go && echo \"$p\"; done | LC_ALL=C sort | paste -sd, -)",
			" bin/openapi-gen "+textutil.ShellQuoteVars(kubeOpenAPIArgs(p, []string{"$pkgs"})...),
			" cp gen/"+kubeOpenAPIFile+" "+kubeSourceCopy+"/"+kubeOpenAPIPkg+"/")
	}
	for _, g := range kr.groups() {
		line := " CGO_ENABLED=0 go "
		if g.cgo {
			line = " CGO_ENABLED=1 go "
		}
		lines = append(lines, line+textutil.ShellQuoteVars(kubeBuildArgs(p.ldflags, "$out", kr.packages(g.binaries))...))
	}
	lines = append(lines, " cd \"$out\"; rm -rf \"$tmp\")")
	return strings.Join(lines, "\n")
}
