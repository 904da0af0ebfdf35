package explore

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed draft/bug.go.tmpl
var draftTemplate string

var draftTmpl = template.Must(template.New("draft").Funcs(template.FuncMap{
	"quote": func(s string) string { return fmt.Sprintf("%q", s) },
	"lines": func(ss []string) string { return strings.Join(ss, "\n//   ") },
}).Parse(draftTemplate))

// draftData is what the template reads.
type draftData struct {
	Finding    *Finding
	Containerd string
	Runc       string
	Kubernetes string
	Seed       uint64
}

// RenderDraft renders the draft kit declaration of a new finding.
func RenderDraft(f *Finding, o Options) ([]byte, error) {
	var b bytes.Buffer
	if err := draftTmpl.Execute(&b, draftData{Finding: f, Containerd: o.Containerd, Runc: o.Runc, Kubernetes: o.Kubernetes, Seed: o.Seed}); err != nil {
		return nil, fmt.Errorf("rendering the draft: %w", err)
	}
	return b.Bytes(), nil
}

// WriteDraft writes the draft into dir as chaos_<seed>_<trial>.go.txt: a
// draft, not code the build compiles, until someone names the bug.
func WriteDraft(dir string, f *Finding, o Options) (string, error) {
	data, err := RenderDraft(f, o)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("--draft %s: %w", dir, err)
	}
	path := filepath.Join(dir, fmt.Sprintf("chaos_%d_%d.go.txt", o.Seed, f.Trial))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("--draft: %w", err)
	}
	return path, nil
}
