package report

import (
	_ "embed"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"

	md "github.com/relapse-dev/relapse/harness/markdown"
)

// MarkdownName is the issue-ready summary in a report directory.
const MarkdownName = "summary.md"

// maxEvidenceLines bounds each evidence block in the summary; the bundle
// has them whole.
const maxEvidenceLines = 40

// issueForm is the headings of an upstream project's bug-report form, in
// its order (runc's and containerd's bug_report.yaml, Kubernetes'
// bug-report.yaml, systemd's bug_report.yml), so the summary pastes into
// the form field by field. The headings are Markdown, printed as they are.
type issueForm struct {
	Description, Steps, Results, Version, HostOS, Kernel string
	// Expected, for forms that ask what happened and what was expected
	// apart (Kubernetes); "" when one field holds both.
	Expected string
}

func formFor(component string) issueForm {
	switch component {
	case "kubernetes":
		return issueForm{Description: "What happened?", Expected: "What did you expect to happen?",
			Steps: "How can we reproduce it (as minimally and precisely as possible)?", Results: "Anything else we need to know?",
			Version: "Kubernetes version", HostOS: "OS version", Kernel: "Container runtime (CRI) and version (if applicable)"}
	case "systemd":
		return issueForm{Description: "Unexpected behaviour you saw", Expected: "Expected behaviour you didn't see",
			Steps: "Steps to reproduce the problem", Results: "Additional program output to the terminal or log subsystem illustrating the issue",
			Version: "systemd version the issue has been seen with", HostOS: "Used distribution", Kernel: "Linux kernel version used"}
	case "containerd":
		return issueForm{Description: "Description", Steps: "Steps to reproduce the issue", Results: "Describe the results you received and expected",
			Version: "What version of containerd are you using?", HostOS: "Any other relevant information", Kernel: ""}
	}
	return issueForm{Description: "Description", Steps: "Steps to reproduce the issue", Results: "Describe the results you received and expected",
		Version: "What version of " + md.Text(orWord(component, "the component")) + " are you using?", HostOS: "Host OS information", Kernel: "Host kernel information"}
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

//go:embed templates/summary.md.tmpl
var summaryTemplateText string

// summaryFuncs are the only ways the summary's template prints a value:
// each escapes it for where it goes (package markdown).
var summaryFuncs = template.FuncMap{
	"text":     md.Text,
	"code":     md.Code,
	"cellcode": md.CellCode,
	"html":     md.HTML,
	"fence":    md.Fence,
	// indentedFence is a fenced block inside a list item.
	"indentedFence": func(prefix, lang, text string) string {
		lines := strings.Split(strings.TrimRight(md.Fence(lang, md.OneLine(text)), "\n"), "\n")
		return prefix + strings.Join(lines, "\n"+prefix)
	},
	// details folds text, fenced, into a <details> block.
	"details": func(summary, lang, text string) string {
		return "<details><summary>" + md.HTML(summary) + "</summary>\n\n" + md.Fence(lang, text) + "\n</details>\n\n"
	},
	// reasons folds a list of lines into a <details> block.
	"reasons": func(summary string, lines []string) string {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString("- " + md.Text(l) + "\n")
		}
		return "<details><summary>" + md.HTML(summary) + "</summary>\n\n" + b.String() + "\n</details>\n\n"
	},
}

var summaryTemplate = template.Must(template.New("summary.md").Funcs(summaryFuncs).Parse(summaryTemplateText))

// summaryView is what the summary's template prints: the report and the
// plain strings derived from it, none of them escaped yet.
type summaryView struct {
	R    *Report
	Form issueForm
	// Result, Title and Subject head the summary.
	Result, Title, Subject string
	// Expected is the verdict's expected result.
	Expected string
	Glance   Glance
	// ReasonsOf is the first finding with reasons.
	ReasonsOf *Finding
	// Evidence are the evidence blocks, each cut to maxEvidenceLines.
	Evidence []Block
	Versions []versionRow
	Observed []Fact
	// Libseccomp, Relapse and RelapseGo end the version table;
	// RelapseVersion and FooterGo sign the summary.
	Libseccomp, Relapse, RelapseGo, RelapseVersion, FooterGo string
	// OSLines, HostLine, UnameLines and KernelLine describe the node.
	OSLines, HostLine, UnameLines, KernelLine string
	Changes                                   []changeRow
	ChangeCount                               string
	Finished, Bundle                          string
}

// versionRow is one built component.
type versionRow struct {
	Component, Version, Commit, Sum, Build string
	// Local says Commit is a local tree's, not the release's.
	Local bool
}

// changeRow is one change of the node, its empty values as "-".
type changeRow struct {
	Kind, Target, Before, Applied, After string
	Disposable, Restored                 bool
}

func newSummaryView(r *Report) *summaryView {
	v := r.Verdict
	sv := &summaryView{R: r, Form: formFor(r.Bug.Component), Result: orWord(string(v.Result), "NO VERDICT"),
		Title: r.Bug.ID, Expected: string(v.Expected), Glance: r.Decisive(), Observed: sortedFacts(r.Observed),
		Libseccomp: orWord(r.Host.Libseccomp, "?"), RelapseGo: orWord(r.Relapse.Go, "-"), RelapseVersion: orWord(r.Relapse.Version, "unknown"),
		Finished: r.Finished.UTC().Format("2006-01-02 15:04 UTC"), Bundle: BundleName(r)}
	subject := strings.TrimSpace(v.Component + " " + v.Version)
	if v.Build != "" {
		subject += " (" + v.Build + ")"
	}
	sv.Subject = orWord(subject, "the versions below")
	if r.Bug.Fix != "" {
		sv.Title += " (fixed by " + r.Bug.Fix + ")"
	}
	for i, f := range r.Findings {
		if len(f.Reasons) > 0 {
			sv.ReasonsOf = &r.Findings[i]
			break
		}
	}
	for _, e := range r.Evidence {
		sv.Evidence = append(sv.Evidence, Block{Title: e.Title, Text: firstLines(e.Text, maxEvidenceLines)})
	}
	for _, a := range r.Components {
		row := versionRow{Component: a.Component, Version: a.Version, Commit: a.Commit, Sum: a.Sum,
			Build: "go " + strings.TrimPrefix(a.GoVersion, "go")}
		// "latest" in a report must say what it was that day.
		if a.Selected != "" {
			row.Version += " (" + a.Selected + ")"
		}
		if a.Source != nil && a.Source.Commit != "" {
			row.Commit, row.Local = a.Source.Commit, true
		}
		if len(a.Tags) > 0 {
			row.Build += ", tags " + strings.Join(a.Tags, ",")
		}
		for _, pt := range a.Patches {
			row.Build += fmt.Sprintf(", patch %s (sha256 %s)", pt.Name, pt.SHA256[:min(12, len(pt.SHA256))])
		}
		sv.Versions = append(sv.Versions, row)
	}
	sv.Relapse = r.Relapse.Version
	if r.Relapse.Commit != "" && !strings.Contains(sv.Relapse, r.Relapse.Commit[:min(12, len(r.Relapse.Commit))]) {
		sv.Relapse += " (" + r.Relapse.Commit + ")"
	}
	sv.Relapse = orWord(sv.Relapse, "unknown")
	sv.FooterGo = orWord(r.Relapse.Go, "go?")
	h := r.Host
	uname := "$ uname -a\n" + orWord(h.Uname, h.KernelFull)
	sv.UnameLines = uname
	sv.OSLines = "$ cat /etc/os-release\n" + orWord(h.OSRelease, "PRETTY_NAME=\""+h.OS+"\"")
	if sv.Form.Kernel == "" {
		// No field of its own for the kernel: it goes with the OS.
		sv.OSLines = uname + "\n" + sv.OSLines
	}
	sv.HostLine = fmt.Sprintf("cgroup %s, libseccomp %s, PID 1 %s, %s, %d CPUs, %s memory; node %s (%s).", orWord(h.CgroupMode, "?"),
		orWord(h.Libseccomp, "?"), orWord(h.PID1, "?"), orWord(h.Arch, "?"), h.CPUs, orWord(h.MemTotal, "?"), orWord(r.Node, "?"), orWord(r.Provider, "local"))
	sv.KernelLine = fmt.Sprintf("cgroup %s, libseccomp %s, PID 1 %s, %s, %d CPUs.", orWord(h.CgroupMode, "?"), orWord(h.Libseccomp, "?"),
		orWord(h.PID1, "?"), orWord(h.Arch, "?"), h.CPUs)
	for _, c := range r.Changes {
		sv.Changes = append(sv.Changes, changeRow{Kind: c.Kind, Target: c.Target, Before: orWord(c.Before, "-"), Applied: orWord(c.Applied, "-"),
			After: orWord(c.After, "-"), Disposable: c.Disposable, Restored: c.Restored})
	}
	sv.ChangeCount = fmt.Sprintf("%d changes, %d not put back", len(r.Changes), len(r.Unrestored()))
	return sv
}

// sortedFacts is a map as facts, by name.
func sortedFacts(m map[string]string) []Fact {
	var facts []Fact
	for k, v := range m {
		facts = append(facts, Fact{Name: k, Value: v})
	}
	sort.Slice(facts, func(i, j int) bool { return facts[i].Name < facts[j].Name })
	return facts
}

// RenderMarkdown writes the summary a maintainer pastes into the upstream
// issue (templates/summary.md.tmpl): GitHub-flavoured Markdown under the
// headings of the project's bug form, the decisive evidence, the portable
// reproducer and the raw evidence folded in <details>. Every value in it
// goes through package markdown (escaped, a code span or fenced): a report
// holds what nodes, daemons, processes and users said, and none of it may
// turn into HTML, a broken table or a mention in the upstream issue.
func RenderMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	if err := summaryTemplate.Execute(&b, newSummaryView(r)); err != nil {
		return fmt.Errorf("rendering %s: %w", MarkdownName, err)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// firstLines keeps the first n lines, saying how many were left out.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n… %d more lines in the bundle's report.json", len(lines)-n)
}
