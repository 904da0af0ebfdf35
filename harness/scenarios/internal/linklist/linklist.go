// Package linklist knows which scenario packages exist (directories of
// harness/scenarios holding Go files, internal/ aside) and renders the
// files that link them: every one in the usual build, and in a lean build
// (-tags relapse_lean) only those that need none of the heavy clients.
package linklist

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/relapse-dev/relapse/harness/kit"
)

// FileName links every scenario; LeanFileName those a lean build keeps.
const (
	FileName     = "zz_link.go"
	LeanFileName = "zz_link_lean.go"
)

// LeanTag is the build tag of a lean relapse: the binary `make repro`
// builds for a scenario that drives runc alone, which a fresh machine
// compiles in well under a minute instead of several.
const LeanTag = "relapse_lean"

// Heavy are the import paths a lean build leaves out: the Kubernetes
// client and kind (cluster scenarios) and the Docker and containerd
// clients with gRPC (engine scenarios).
var Heavy = []string{"k8s.io/", "sigs.k8s.io/kind", "github.com/containerd/containerd", "github.com/docker/docker"}

const (
	module          = "github.com/relapse-dev/relapse"
	scenariosImport = module + "/harness/scenarios/"
)

// Packages lists the scenario packages under dir (harness/scenarios).
func Packages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "internal" || strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata" {
			continue
		}
		goFiles, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.go"))
		for _, f := range goFiles {
			if !strings.HasSuffix(f, "_test.go") {
				pkgs = append(pkgs, e.Name())
				break
			}
		}
	}
	sort.Strings(pkgs)
	return pkgs, nil
}

// LeanPackages are the packages among pkgs that, built with LeanTag,
// import nothing Heavy, directly or through relapse's own packages. dir is
// harness/scenarios; the module root is two levels up.
func LeanPackages(dir string, pkgs []string) ([]string, error) {
	w := walker{root: filepath.Join(dir, "..", ".."), heavy: map[string]string{}}
	w.ctx = build.Default
	w.ctx.BuildTags = []string{LeanTag}
	var lean []string
	for _, p := range pkgs {
		via, err := w.heavyImport(scenariosImport + p)
		if err != nil {
			return nil, err
		}
		if via == "" {
			lean = append(lean, p)
		}
	}
	return lean, nil
}

// walker follows relapse's own imports under the lean build's tags.
type walker struct {
	root string
	ctx  build.Context
	// heavy caches, per relapse package, the heavy import it reaches
	// ("" for none).
	heavy map[string]string
}

func (w *walker) heavyImport(path string) (string, error) {
	if via, done := w.heavy[path]; done {
		return via, nil
	}
	w.heavy[path] = "" // an import cycle cannot compile; this only ends the walk
	pkg, err := w.ctx.ImportDir(filepath.Join(w.root, strings.TrimPrefix(path, module)), 0)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	for _, imp := range pkg.Imports {
		via := ""
		switch {
		case isHeavy(imp):
			via = imp
		case strings.HasPrefix(imp, module+"/"):
			if via, err = w.heavyImport(imp); err != nil {
				return "", err
			}
		}
		if via != "" {
			w.heavy[path] = via
			return via, nil
		}
	}
	return "", nil
}

func isHeavy(path string) bool {
	for _, h := range Heavy {
		if strings.HasPrefix(path, h) {
			return true
		}
	}
	return false
}

// ScenarioNames reads the CLI names of a scenario package under dir: the
// string constant Name a scenario package declares, or, in a package of
// bugs declared with the kit (harness/kit), each kit.Bug's name derived
// from its ID.
func ScenarioNames(dir, pkg string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, pkg, "*.go"))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", pkg, err)
	}
	fset := token.NewFileSet()
	var bugs []string
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", pkg, err)
		}
		if name, ok := nameConst(f); ok {
			return []string{name}, nil
		}
		bugs = append(bugs, kitBugNames(f)...)
	}
	if len(bugs) > 0 {
		sort.Strings(bugs)
		return bugs, nil
	}
	return nil, fmt.Errorf("scenario package %s declares no string constant Name (its name on the command line) and no kit.Bug with an ID", pkg)
}

// kitBugNames are the names of the kit.Bug literals in a file, from their
// ID fields (kit's own rule: "containerd#10036" -> containerd-10036).
func kitBugNames(f *ast.File) []string {
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		if sel, ok := lit.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Bug" || fmt.Sprint(sel.X) != "kit" {
			return true
		}
		for _, el := range lit.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok || fmt.Sprint(kv.Key) != "ID" {
				continue
			}
			if v, ok := kv.Value.(*ast.BasicLit); ok && v.Kind == token.STRING {
				if id, err := strconv.Unquote(v.Value); err == nil {
					names = append(names, (&kit.Bug{ID: id}).Name())
				}
			}
		}
		return true
	})
	return names
}

// nameConst is the value of a file's string constant Name, if it declares one.
func nameConst(f *ast.File) (string, bool) {
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name != "Name" || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if name, err := strconv.Unquote(lit.Value); err == nil {
						return name, true
					}
				}
			}
		}
	}
	return "", false
}

// Render is the content of a link file for pkgs under the build
// constraint (none when ""); leftOut are the names of the scenarios the
// build does not link, so that asking for one says so instead of "unknown".
func Render(constraint string, pkgs, leftOut []string) string {
	var b strings.Builder
	b.WriteString("// Code generated by harness/scenarios/internal/linkgen; DO NOT EDIT.\n\n")
	if constraint != "" {
		fmt.Fprintf(&b, "//go:build %s\n\n", constraint)
	}
	b.WriteString("package scenarios\n")
	if len(pkgs) > 0 || len(leftOut) > 0 {
		b.WriteString("\nimport (\n")
		if len(leftOut) > 0 {
			fmt.Fprintf(&b, "\t%q\n", module+"/harness/scenario")
		}
		for _, p := range pkgs {
			fmt.Fprintf(&b, "\t_ %q\n", scenariosImport+p)
		}
		b.WriteString(")\n")
	}
	if len(leftOut) > 0 {
		b.WriteString("\n// The scenarios this build leaves out: asking for one says so.\nfunc init() {\n\tscenario.LeftOut(")
		for i, n := range leftOut {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", n)
		}
		b.WriteString(")\n}\n")
	}
	return b.String()
}

// Files are the link files for the scenario packages under dir, by name.
func Files(dir string) (map[string]string, error) {
	pkgs, err := Packages(dir)
	if err != nil {
		return nil, err
	}
	lean, err := LeanPackages(dir, pkgs)
	if err != nil {
		return nil, err
	}
	var leftOut []string
	for _, p := range pkgs {
		if slices.Contains(lean, p) {
			continue
		}
		names, err := ScenarioNames(dir, p)
		if err != nil {
			return nil, err
		}
		leftOut = append(leftOut, names...)
	}
	sort.Strings(leftOut)
	return map[string]string{
		FileName:     Render("!"+LeanTag, pkgs, nil),
		LeanFileName: Render(LeanTag, lean, leftOut),
	}, nil
}

// Write renders the link files for the packages under dir into dir.
func Write(dir string) error {
	files, err := Files(dir)
	if err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
