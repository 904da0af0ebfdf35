package suitekit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// Every top-level Ordered container of the suites continues on failure,
// so neither a wrong verdict nor anything else skips the specs after it.
func TestOrderedContainersContinueOnFailure(t *testing.T) {
	files, err := filepath.Glob("../*/*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	ordered := 0
	for _, f := range files {
		fs := token.NewFileSet()
		file, err := parser.ParseFile(fs, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range g.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for _, v := range vs.Values {
					call, ok := v.(*ast.CallExpr)
					if !ok {
						continue
					}
					decorators := map[string]bool{}
					for _, a := range call.Args {
						if id, ok := a.(*ast.Ident); ok {
							decorators[id.Name] = true
						}
					}
					if !decorators["Ordered"] {
						continue
					}
					ordered++
					if !decorators["ContinueOnFailure"] {
						t.Errorf("%s: an Ordered container without ContinueOnFailure: one failure would skip every spec after it", fs.Position(call.Pos()))
					}
				}
			}
		}
	}
	if ordered < 10 {
		t.Errorf("found %d top-level Ordered containers under suites/, the suites have at least 10: the scan misses them", ordered)
	}
}
