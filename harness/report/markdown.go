package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

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
// the form field by field.
type issueForm struct {
	description, steps, results, version, hostOS, kernel string
	// expected, for forms that ask what happened and what was expected
	// apart (Kubernetes); "" when one field holds both.
	expected string
}

func formFor(component string) issueForm {
	switch component {
	case "kubernetes":
		return issueForm{description: "What happened?", expected: "What did you expect to happen?",
			steps: "How can we reproduce it (as minimally and precisely as possible)?", results: "Anything else we need to know?",
			version: "Kubernetes version", hostOS: "OS version", kernel: "Container runtime (CRI) and version (if applicable)"}
	case "systemd":
		return issueForm{description: "Unexpected behaviour you saw", expected: "Expected behaviour you didn't see",
			steps: "Steps to reproduce the problem", results: "Additional program output to the terminal or log subsystem illustrating the issue",
			version: "systemd version the issue has been seen with", hostOS: "Used distribution", kernel: "Linux kernel version used"}
	case "containerd":
		return issueForm{description: "Description", steps: "Steps to reproduce the issue", results: "Describe the results you received and expected",
			version: "What version of containerd are you using?", hostOS: "Any other relevant information", kernel: ""}
	}
	return issueForm{description: "Description", steps: "Steps to reproduce the issue", results: "Describe the results you received and expected",
		version: "What version of " + md.Text(orWord(component, "the component")) + " are you using?", hostOS: "Host OS information", kernel: "Host kernel information"}
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// RenderMarkdown writes the summary a maintainer pastes into the upstream
// issue: GitHub-flavoured Markdown under the headings of the project's bug
// form, the decisive evidence, the portable reproducer and the raw
// evidence folded in <details>. Every value in it goes through package
// markdown (escaped, a code span or fenced): a report holds what nodes,
// daemons, processes and users said, and none of it may turn into HTML, a
// broken table or a mention in the upstream issue.
func RenderMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	v := r.Verdict
	form := formFor(r.Bug.Component)
	subject := strings.TrimSpace(v.Component + " " + v.Version)
	if v.Build != "" {
		subject += " (" + v.Build + ")"
	}
	title := r.Bug.ID
	if r.Bug.Fix != "" {
		title += " (fixed by " + r.Bug.Fix + ")"
	}
	result := string(v.Result)
	if result == "" {
		result = "NO VERDICT"
	}
	p("**relapse: %s** — %s with %s", md.Text(result), md.Text(title), md.Text(orWord(subject, "the versions below")))
	p("")
	p("> %s", md.Text(r.Bug.Title))
	p("")

	p("### %s", form.description)
	p("")
	if r.Bug.Summary != "" {
		p("%s", md.Text(r.Bug.Summary))
		p("")
	}
	p("relapse ran this as a pinned experiment (%s): **%s**. %s", md.Text(r.Scenario), md.Text(result), md.Text(v.Reason))
	if v.Rate.N > 0 {
		p("")
		p("Repetitions: %s.", md.Text(v.Rate.String()))
	}
	p("")
	if form.expected != "" {
		p("### %s", form.expected)
		p("")
		p("%s", expectation(v))
		p("")
	}

	p("### %s", form.steps)
	p("")
	p("1. As root, in an empty directory, save the script below as `reproduce.sh` and run `sh reproduce.sh`; it needs no relapse, makes everything it uses and removes it again. The script says what to expect on an affected and on a fixed version.")
	if r.Rerun != "" {
		p("2. Or with relapse (https://github.com/relapse-dev/relapse), which builds the exact versions and decides from the evidence:")
		p("")
		p("%s", indent("   ", md.Fence("sh", md.OneLine(r.Rerun))))
	}
	p("")
	if r.Reproduce != "" {
		details(&b, "reproduce.sh", "sh", r.Reproduce)
	}

	p("### %s", form.results)
	p("")
	if form.expected == "" {
		p("**Received:** %s — %s", md.Text(result), md.Text(v.Reason))
		p("")
		p("**Expected:** %s", expectation(v))
		p("")
	}
	g := r.Decisive()
	if len(g.Facts) > 0 || len(g.Rows) > 0 {
		p("**Key evidence** — %s:", md.Text(g.Title))
		p("")
		for _, f := range g.Facts {
			if f.Name == "" {
				p("- %s", md.Text(f.Value))
			} else {
				p("- **%s**: %s", md.Text(f.Name), md.Code(f.Value))
			}
		}
		if len(g.Rows) > 0 {
			p("| attempt | outcome | seen inside the container |")
			p("| --- | --- | --- |")
			for _, row := range g.Rows {
				p("| %s | %s | %s |", md.Text(row.Label), md.Text(row.Outcome), md.Text(row.Seen))
			}
		}
		p("")
	}
	for _, f := range r.Findings {
		if len(f.Reasons) > 0 {
			var list strings.Builder
			for _, reason := range f.Reasons {
				list.WriteString("- " + md.Text(reason) + "\n")
			}
			details(&b, "Why the detector decided ("+f.Detector+")", "", list.String())
			break
		}
	}
	for _, e := range r.Evidence {
		details(&b, e.Title, "text", firstLines(e.Text, maxEvidenceLines))
	}

	p("### %s", form.version)
	p("")
	versionTable(&b, r)
	p("")
	if form.hostOS != "" {
		p("### %s", form.hostOS)
		p("")
		environment(&b, r, form.kernel == "")
	}
	if form.kernel != "" {
		p("### %s", form.kernel)
		p("")
		p("%s", md.Fence("", "$ uname -a\n"+orWord(r.Host.Uname, r.Host.KernelFull)))
		p("%s", md.Text(fmt.Sprintf("cgroup %s, libseccomp %s, PID 1 %s, %s, %d CPUs.", orWord(r.Host.CgroupMode, "?"), orWord(r.Host.Libseccomp, "?"),
			orWord(r.Host.PID1, "?"), orWord(r.Host.Arch, "?"), r.Host.CPUs)))
		p("")
	}
	if len(r.Changes) > 0 {
		changes(&b, r)
	}
	p("<sub>relapse %s (%s), run %s, %s. The report bundle (HTML, JSON, this summary, the OCI bundle, logs) is attached as %s.</sub>",
		md.Text(orWord(r.Relapse.Version, "unknown")), md.Text(orWord(r.Relapse.Go, "go?")), md.Code(r.RunID), r.Finished.UTC().Format("2006-01-02 15:04 UTC"), md.Code(BundleName(r)))
	_, err := io.WriteString(w, b.String())
	return err
}

// expectation is what the affected range predicts, and whether it held.
func expectation(v Verdict) string {
	if v.Expected == "" {
		return "no expectation recorded."
	}
	held := "as expected"
	if !v.Matches {
		held = "**not** as expected"
	}
	return fmt.Sprintf("%s: %s (%s).", md.Text(string(v.Expected)), md.Text(v.ExpectedWhy), held)
}

// versionTable is every component with its upstream commit and module sum,
// then what else ran and relapse itself.
func versionTable(b *strings.Builder, r *Report) {
	fmt.Fprintln(b, "| component | version | upstream release commit | module sum | build |")
	fmt.Fprintln(b, "| --- | --- | --- | --- | --- |")
	for _, a := range r.Components {
		commit := "not pinned"
		if a.Commit != "" {
			commit = md.CellCode(a.Commit)
		}
		if a.Source != nil && a.Source.Commit != "" {
			commit = md.CellCode(a.Source.Commit) + " (local tree)"
		}
		build := "go " + strings.TrimPrefix(a.GoVersion, "go")
		if len(a.Tags) > 0 {
			build += ", tags " + strings.Join(a.Tags, ",")
		}
		for _, pt := range a.Patches {
			build += fmt.Sprintf(", patch %s (sha256 %s)", pt.Name, pt.SHA256[:min(12, len(pt.SHA256))])
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", md.Text(a.Component), md.Text(a.Version), commit, md.CellCode(orWord(a.Sum, "-")), md.Text(build))
	}
	var observed []string
	for k := range r.Observed {
		observed = append(observed, k)
	}
	sort.Strings(observed)
	for _, k := range observed {
		fmt.Fprintf(b, "| %s | %s | as the node reports it | - | the node's own |\n", md.Text(k), md.Text(r.Observed[k]))
	}
	for _, s := range r.Stack {
		fmt.Fprintf(b, "| %s | %s | - | - | ran beside it |\n", md.Text(s.Name), md.Text(s.Value))
	}
	fmt.Fprintf(b, "| libseccomp | %s | - | - | the node's |\n", md.Text(orWord(r.Host.Libseccomp, "?")))
	rel := r.Relapse.Version
	if r.Relapse.Commit != "" && !strings.Contains(rel, r.Relapse.Commit[:min(12, len(r.Relapse.Commit))]) {
		rel += " (" + r.Relapse.Commit + ")"
	}
	fmt.Fprintf(b, "| relapse | %s | - | - | %s |\n", md.Text(orWord(rel, "unknown")), md.Text(orWord(r.Relapse.Go, "-")))
}

// environment is the node: os-release, and the kernel when the form has no
// field of its own for it.
func environment(b *strings.Builder, r *Report, withKernel bool) {
	var lines []string
	if withKernel {
		lines = append(lines, "$ uname -a", orWord(r.Host.Uname, r.Host.KernelFull))
	}
	lines = append(lines, "$ cat /etc/os-release", orWord(r.Host.OSRelease, "PRETTY_NAME=\""+r.Host.OS+"\""))
	fmt.Fprintf(b, "%s\n", md.Fence("", strings.Join(lines, "\n")))
	fmt.Fprintf(b, "%s\n\n", md.Text(fmt.Sprintf("cgroup %s, libseccomp %s, PID 1 %s, %s, %d CPUs, %s memory; node %s (%s).", orWord(r.Host.CgroupMode, "?"),
		orWord(r.Host.Libseccomp, "?"), orWord(r.Host.PID1, "?"), orWord(r.Host.Arch, "?"), r.Host.CPUs, orWord(r.Host.MemTotal, "?"),
		orWord(r.Node, "?"), orWord(r.Provider, "local"))))
	for _, f := range r.NodeSetup {
		fmt.Fprintf(b, "- %s: %s\n", md.Text(f.Name), md.Text(f.Value))
	}
	if len(r.NodeSetup) > 0 {
		fmt.Fprintln(b)
	}
}

// changes says what the experiment changed on the node and that it was
// put back.
func changes(b *strings.Builder, r *Report) {
	var rows []string
	for _, c := range r.Changes {
		state := "put back"
		switch {
		case c.Disposable:
			state = "gone with the node"
		case !c.Restored:
			state = "**NOT put back**"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s → %s → %s | %s |", md.Text(c.Kind), md.CellCode(c.Target), md.Text(orWord(c.Before, "-")), md.Text(orWord(c.Applied, "-")), md.Text(orWord(c.After, "-")), state))
	}
	fmt.Fprintf(b, "<details><summary>What the experiment changed on the node (%d changes, %d not put back)</summary>\n\n", len(r.Changes), len(r.Unrestored()))
	fmt.Fprintln(b, "| kind | target | before → during → after | |")
	fmt.Fprintln(b, "| --- | --- | --- | --- |")
	fmt.Fprintf(b, "%s\n\n</details>\n\n", strings.Join(rows, "\n"))
}

// details folds text into a <details> block: fenced with lang, or, with
// lang "", Markdown the caller escaped already.
func details(b *strings.Builder, summary, lang, text string) {
	fmt.Fprintf(b, "<details><summary>%s</summary>\n\n", md.HTML(summary))
	if lang == "" {
		fmt.Fprintf(b, "%s\n\n</details>\n\n", strings.TrimRight(text, "\n"))
		return
	}
	fmt.Fprintf(b, "%s\n</details>\n\n", md.Fence(lang, text))
}

// indent prefixes every line of text (a block inside a list item).
func indent(prefix, text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix)
}

// firstLines keeps the first n lines, saying how many were left out.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n… %d more lines in the bundle's report.json", len(lines)-n)
}
