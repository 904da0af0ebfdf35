package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"text/template"
	"text/template/parse"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/markdown/mdcheck"
)

// renderGFM renders Markdown the way GitHub does for the parts the summary
// uses: GFM tables, fenced code, raw <details>.
func renderGFM(t *testing.T, md string) string {
	t.Helper()
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
	if err := gm.Convert([]byte(md), &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestSummaryRendersUnderTheFormHeadings(t *testing.T) {
	r := reproducedReport()
	r.Reproduce = "#!/bin/sh\necho reproduce\n"
	r.Rerun = "relapse repro --scenario runc-pipe-hang --version runc=1.0.0-rc93"
	r.Host.Uname = "Linux host 6.1.0 #1 SMP x86_64 GNU/Linux"
	r.Host.OSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"`
	r.Stack = []Fact{{Name: "dockerd", Value: "20.10.24 | pipe"}}
	var b bytes.Buffer
	if err := RenderMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	page := renderGFM(t, md)
	for _, want := range []string{
		"<h3>Description</h3>", "<h3>Steps to reproduce the issue</h3>", "<h3>Describe the results you received and expected</h3>",
		"<h3>What version of runc are you using?</h3>", "<h3>Host OS information</h3>", "<h3>Host kernel information</h3>",
		"<summary>reproduce.sh</summary>", `<code class="language-sh">#!/bin/sh`, "<table>", "<th>upstream release commit</th>",
		"<td>20.10.24 | pipe</td>", "<strong>Key evidence</strong>", "Linux host 6.1.0",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("rendered summary lacks %q", want)
		}
	}
	// A table row that did not render shows up as a paragraph of pipes.
	if strings.Contains(page, "<p>| ") {
		t.Error("a Markdown table did not render as a table")
	}
	if len(md) > 60000 {
		t.Errorf("summary is %d bytes: too long for an issue comment (65536)", len(md))
	}
}

func TestSummaryUsesKubernetesForm(t *testing.T) {
	r := reproducedReport()
	r.Bug.Component = "kubernetes"
	var b bytes.Buffer
	if err := RenderMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	page := renderGFM(t, b.String())
	for _, want := range []string{"<h3>What happened?</h3>", "<h3>What did you expect to happen?</h3>",
		"<h3>How can we reproduce it (as minimally and precisely as possible)?</h3>", "<h3>Kubernetes version</h3>"} {
		if !strings.Contains(page, want) {
			t.Errorf("rendered summary lacks %q", want)
		}
	}
}

// Every string a report holds, set to text that breaks unescaped Markdown,
// stays text in summary.md: no raw HTML outside code but the summary's own
// <details>, <summary> and <sub>, every table row as wide as its header,
// no @mention outside code. Each variant takes another branch of the
// summary (the finding's reasons, its blocked process, the attempts, the
// three bug forms).
func TestSummaryKeepsHostileTextText(t *testing.T) {
	for name, edit := range map[string]func(r *Report){
		"every field": func(r *Report) {},
		"attempts":    func(r *Report) { r.Findings = nil },
		"blocked process": func(r *Report) {
			r.Findings[0].Processes[0].Syscall = evidence.Syscall{Number: 1, Name: "write", Args: []uint64{3, 0, 65536}}
		},
		"containerd form":  func(r *Report) { r.Bug.Component = "containerd" },
		"kubernetes form":  func(r *Report) { r.Bug.Component = "kubernetes" },
		"systemd form":     func(r *Report) { r.Bug.Component = "systemd" },
		"local tree build": func(r *Report) { r.Components[0].Source.Commit = mdcheck.Hostile },
	} {
		t.Run(name, func(t *testing.T) {
			r := &Report{}
			mdcheck.Fill(r, mdcheck.Hostile)
			edit(r)
			if r.Components[0].Patches[0].Name != mdcheck.Hostile || r.Host.Uname != mdcheck.Hostile || r.Findings != nil && r.Findings[0].Processes[0].Comm != mdcheck.Hostile {
				t.Fatalf("Fill left fields unset: %+v", r.Components[0])
			}
			var b bytes.Buffer
			if err := RenderMarkdown(&b, r); err != nil {
				t.Fatal(err)
			}
			problems := mdcheck.Problems(b.String())
			for _, p := range problems {
				t.Error(p)
			}
			if len(problems) > 0 {
				t.Logf("summary.md:\n%s", b.String())
			}
			if !strings.Contains(b.String(), "<img src=x onerror=alert(1)>") {
				t.Error("the hostile text is in no fence: the test no longer reaches the evidence blocks")
			}
		})
	}
}

// unescapedActions lists the actions of a summary template that print a
// value without one of the escaping functions; only the form's headings
// (.Form.*, Markdown of relapse's own) may be printed as they are.
func unescapedActions(tmpl *template.Template) []string {
	var bad []string
	var visit func(n parse.Node)
	visit = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				visit(c)
			}
		case *parse.IfNode:
			visit(n.List)
			visit(n.ElseList)
		case *parse.RangeNode:
			visit(n.List)
			visit(n.ElseList)
		case *parse.WithNode:
			visit(n.List)
			visit(n.ElseList)
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 {
				return
			}
			last := n.Pipe.Cmds[len(n.Pipe.Cmds)-1].Args[0]
			switch a := last.(type) {
			case *parse.IdentifierNode:
				if _, escapes := summaryFuncs[a.Ident]; escapes {
					return
				}
			case *parse.FieldNode:
				if a.Ident[0] == "Form" {
					return
				}
			}
			bad = append(bad, n.String())
		}
	}
	for _, t := range tmpl.Templates() {
		if t.Tree != nil {
			visit(t.Root)
		}
	}
	return bad
}

// Every value summary.md.tmpl prints goes through an escaping function.
func TestSummaryTemplatePrintsNothingUnescaped(t *testing.T) {
	if bad := unescapedActions(summaryTemplate); len(bad) > 0 {
		t.Errorf("summary.md.tmpl prints without escaping: %v", bad)
	}
	probe := template.Must(template.New("probe").Funcs(summaryFuncs).Parse(`{{.Form.Steps}} {{text .R.Scenario}} {{.R.Bug.Title}} {{with .R}}{{.Scenario}}{{end}} {{.R.Rerun | code}}`))
	if bad := unescapedActions(probe); !reflect.DeepEqual(bad, []string{"{{.R.Bug.Title}}", "{{.Scenario}}"}) {
		t.Errorf("the check found %q in the probe, want the two raw actions", bad)
	}
}
