package bisect

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"

	md "github.com/relapse-dev/relapse/harness/markdown"
	"github.com/relapse-dev/relapse/harness/redact"
)

// Write saves the bisection into dir: bisect.json (the source), bisect.md
// (to paste into an issue) and bisect.html (one self-contained page),
// each with credentials redacted (package redact).
func Write(dir string, r *Result) (htmlPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	rc := redact.Copy(*r)
	r = &rc
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "bisect.json"), data, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "bisect.md"), []byte(Markdown(r)), 0o644); err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(dir, "bisect.html"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	return f.Name(), page.Execute(f, view{r, dir})
}

// Summary is the result in a sentence per boundary.
func Summary(r *Result) []string {
	var out []string
	for _, b := range r.Boundaries {
		first, last := "bad", "good"
		if b.Kind == "fixed" {
			first, last = "good", "bad"
		}
		line := fmt.Sprintf("%s: first %s %s, last %s %s", b.Kind, first, b.After, last, b.Before)
		if len(b.Skipped) > 0 {
			line += " (undecided between them: " + strings.Join(b.Skipped, ", ") + ")"
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		out = append(out, "no boundary: every labelled version agreed")
	}
	return out
}

// Markdown is the bisection for an issue comment. Versions, commits,
// reasons and paths come from builds, nodes and the user: each goes
// through package markdown.
func Markdown(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Bisection of %s (%s) over %s\n\n", md.Text(r.Bug.ID), md.Text(r.Scenario), md.Text(what(r)))
	for _, s := range Summary(r) {
		fmt.Fprintf(&b, "- **%s**\n", md.Text(s))
	}
	fmt.Fprintf(&b, "\n%d experiments in %s.\n\n", r.Experiments(), seconds(r.Seconds))
	b.WriteString("| step | version | commit | verdict | rate | label | time |\n|---|---|---|---|---|---|---|\n")
	for i, s := range r.Steps {
		kind := ""
		if s.Endpoint {
			kind = " (check)"
		}
		fmt.Fprintf(&b, "| %d%s | %s | %s | %s | %s | %s | %s |\n", i+1, kind, md.Text(s.Version), md.CellCode(short(s.Commit)),
			md.Text(string(s.Result)), md.Text(s.Rate.String()), md.Text(string(s.Label)), seconds(s.Seconds))
	}
	return b.String()
}

func what(r *Result) string {
	if r.Source != "" {
		return "the commits of " + r.Source
	}
	return fmt.Sprintf("%d %s releases", len(r.Candidates), r.Component)
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func seconds(s float64) string {
	if s >= 120 {
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.0f s", s)
}

type view struct {
	*Result
	Dir string
}

func (v view) Summary() []string { return Summary(v.Result) }
func (v view) What() string      { return what(v.Result) }
func (v view) Total() string     { return seconds(v.Seconds) }

// ReportLink is a step's report page relative to the bisection's page.
func (v view) ReportLink(s Step) string {
	if s.Report == "" {
		return ""
	}
	rel, err := filepath.Rel(v.Dir, filepath.Join(s.Report, "report.html"))
	if err != nil {
		return ""
	}
	return rel
}

var page = template.Must(template.New("bisect").Funcs(template.FuncMap{"secs": seconds, "short": short, "inc": func(i int) int { return i + 1 }}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bisect {{.Bug.ID}} · relapse</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1d1d1f;overflow-wrap:break-word}
h1{font-size:1.4em} table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.bad{color:#b00020;font-weight:600}.good{color:#1b7f3b;font-weight:600}.skip{color:#8a6d00}
.sum{background:#f4f6f8;border-left:4px solid #345;padding:.6em 1em;margin:1em 0} code{font-size:.9em}
@media print{body{max-width:none}}
</style></head><body>
<h1>Bisection of {{.Bug.ID}} <small>({{.Scenario}})</small></h1>
<p>{{.Bug.Title}}. Searched {{.What}}.</p>
<div class="sum">{{range .Summary}}<div><b>{{.}}</b></div>{{end}}
<div>{{len .Steps}} experiments in {{.Total}}.</div></div>
<table><tr><th>#</th><th>version</th><th>commit</th><th>verdict</th><th>rate</th><th>label</th><th>time</th><th>why</th></tr>
{{range $i, $s := .Steps}}<tr><td>{{inc $i}}{{if $s.Endpoint}} (check){{end}}</td><td><code>{{$s.Version}}</code></td><td><code>{{short $s.Commit}}</code></td>
<td>{{with $.ReportLink $s}}<a href="{{.}}">{{$s.Result}}</a>{{else}}{{$s.Result}}{{end}}</td><td>{{$s.Rate}}</td><td class="{{$s.Label}}">{{$s.Label}}</td><td>{{secs $s.Seconds}}</td><td>{{$s.Why}}</td></tr>
{{end}}</table>
</body></html>
`))
