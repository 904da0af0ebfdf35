package results

import (
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/relapse-dev/relapse/harness/report"
)

// maxNights is how many nights the dashboard shows, newest first.
const maxNights = 10

// Dashboard renders the comparison as one self-contained page (inline CSS,
// no script, no request leaves the page), with links to each cell's report
// relative to where the page is written (dir).
func Dashboard(w io.Writer, name string, c *Comparison, dir string) error {
	v := dashView{Name: name, Latest: c.Latest(), Nights: shownNights(c)}
	counts := map[string]int{}
	groups := map[string]*bugView{}
	for _, r := range c.Rows {
		for _, f := range r.Flags {
			counts[f]++
		}
		g, ok := groups[r.Bug]
		if !ok {
			g = &bugView{Bug: r.Bug, Title: bugTitle(r, c.Nights)}
			groups[r.Bug] = g
			v.Bugs = append(v.Bugs, g)
		}
		rv := rowView{Row: r, Label: r.Label}
		if e, ok := r.Entries[c.Latest()]; ok && e.Bisection != nil {
			rv.Bisect = bisectView{Line: e.Bisection.Line(), Page: relLink(dir, e.BisectPage), Summary: relLink(dir, e.BisectSummary)}
		}
		for _, n := range v.Nights {
			e, ok := r.Entries[n]
			if !ok {
				rv.Cells = append(rv.Cells, cellView{Class: "none", Text: "-", Title: "not run in night " + n})
				continue
			}
			cv := cellOf(e, dir)
			if r.Selector != "" {
				selectorCell(&cv, &r, c.Nights, e)
			}
			rv.Cells = append(rv.Cells, cv)
		}
		g.Rows = append(g.Rows, rv)
	}
	for _, f := range []string{FlagRelapse, FlagCanaryMissed, FlagFailing, FlagFlaky, FlagNewlyFixed, FlagStale} {
		v.Counts = append(v.Counts, countView{Flag: f, N: counts[f], Class: flagClass(f)})
	}
	v.Rows = len(c.Rows)
	return dashboard.Execute(w, v)
}

// shownNights are the nights the dashboard shows, newest first.
func shownNights(c *Comparison) []string {
	var out []string
	for i := len(c.Nights) - 1; i >= 0 && len(out) < maxNights; i-- {
		out = append(out, c.Nights[i])
	}
	return out
}

// Linked are the report pages the dashboard links to: those of the
// entries in the nights it shows, and the latest night's bisection pages
// (the directory of each is what a site copies).
func Linked(c *Comparison) []string {
	var pages []string
	for _, r := range c.Rows {
		for _, n := range shownNights(c) {
			if e, ok := r.Entries[n]; ok && e.ReportPage() != "" {
				pages = append(pages, e.ReportPage())
			}
		}
		if e, ok := r.Entries[c.Latest()]; ok && e.Bisection != nil && e.BisectPage != "" {
			pages = append(pages, e.BisectPage)
		}
	}
	sort.Strings(pages)
	return pages
}

func bugTitle(r Row, nights []string) string {
	for i := len(nights) - 1; i >= 0; i-- {
		if e, ok := r.Entries[nights[i]]; ok && e.Meta["bug_title"] != "" {
			return e.Meta["bug_title"]
		}
	}
	return ""
}

func cellOf(e Entry, dir string) cellView {
	cv := cellView{Class: verdictClass(e), Rate: rate(e)}
	// Short words so ten nights fit a laptop's width; the title says it
	// in full.
	switch e.Verdict() {
	case report.Reproduced:
		cv.Text = "REPRO"
	case report.NotReproduced:
		cv.Text = "NOT REPRO"
	case report.Inconclusive:
		cv.Text = "INCONCL."
	default:
		cv.Text = e.Result
	}
	if e.Relapse() {
		cv.Text, cv.Class = "RELAPSE", "relapse"
	}
	cv.Title = fmt.Sprintf("night %s: %s; expected %s; %s", e.Night, e.Meta["verdict"], e.Meta["expected"], e.Result)
	cv.Link = relLink(dir, e.ReportPage())
	return cv
}

// relLink is the page p as a link from a page written in dir ("" for no
// page).
func relLink(dir, p string) string {
	if p == "" {
		return ""
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}

// selectorCell adds to a selector row's cell what the selector resolved
// to that night, marked when it differs from the night before it in the
// row, and RELAPSE when the new version reproduced and the one before
// did not.
func selectorCell(cv *cellView, r *Row, nights []string, e Entry) {
	cv.Resolved = strings.TrimPrefix(e.Resolved(), "v")
	i := slices.Index(nights, e.Night)
	for j := i - 1; j >= 0; j-- {
		if p, ok := r.Entries[nights[j]]; ok {
			if p.Resolved() != e.Resolved() {
				cv.Changed = true
				cv.Title += fmt.Sprintf("; %s resolved to %s (was %s on night %s)", selectorLabel(e), e.Resolved(), p.Resolved(), p.Night)
			}
			break
		}
	}
	if !r.Canary && newlyReproduced(r, nights[:i+1], e) != nil {
		cv.Text, cv.Class = "RELAPSE", "relapse"
	}
}

func rate(e Entry) string {
	n := parseInt(e.Meta["n"])
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", parseInt(e.Meta["k"]), n)
}

func verdictClass(e Entry) string {
	switch {
	case !e.Passed && e.Errored():
		return "error"
	case !e.Passed:
		return "fail"
	case e.Verdict() == report.Reproduced:
		return "repro"
	case e.Verdict() == report.NotReproduced:
		return "clean"
	}
	return "inconclusive"
}

// nightHead breaks a night named by NightName (2026-12-01T0217) into its
// date and time on two lines; other names stay as they are.
func nightHead(n string) template.HTML {
	date, clock, ok := strings.Cut(n, "T")
	if !ok || len(clock) != 4 {
		return template.HTML(template.HTMLEscapeString(n))
	}
	return template.HTML(template.HTMLEscapeString(date) + "<br>" + template.HTMLEscapeString(clock[:2]+":"+clock[2:]))
}

func flagClass(f string) string {
	return strings.ToLower(strings.ReplaceAll(f, " ", "-"))
}

type dashView struct {
	Name, Latest string
	Nights       []string
	Bugs         []*bugView
	Counts       []countView
	Rows         int
}

type countView struct {
	Flag, Class string
	N           int
}

type bugView struct {
	Bug, Title string
	Rows       []rowView
}

type rowView struct {
	Row
	Label  string
	Cells  []cellView
	Bisect bisectView
}

// bisectView is the latest night's bisection of a row: its line, and
// links to its page and to the summary for the upstream tracker.
type bisectView struct {
	Line, Page, Summary string
}

type cellView struct {
	Class, Text, Rate, Link, Title string
	// Resolved is what a selector resolved to; Changed marks a night it
	// resolved to something new.
	Resolved string
	Changed  bool
}

var dashboard = template.Must(template.New("dashboard").Funcs(template.FuncMap{"flagClass": flagClass, "nightHead": nightHead}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Name}} · relapse</title>
<style>
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,sans-serif;margin:0 auto;max-width:1360px;padding:1em 1.2em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.35em;margin:.2em 0}
h2{font-size:1.08em;margin:1.4em 0 .3em} h2 small{font-weight:normal;color:#555}
.counts{display:flex;flex-wrap:wrap;gap:.5em;margin:.6em 0 1em}
.count{padding:.25em .7em;border-radius:1em;background:#e8e8ec;font-weight:600}
.count.zero{opacity:.45;font-weight:normal}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;background:#fff;table-layout:fixed}
th,td{border:1px solid #e0e0e4;padding:.3em .45em;vertical-align:top;overflow-wrap:anywhere}
th{background:#f0f0f3;text-align:left;font-weight:600}
col.label{width:22%} col.flags{width:13%} col.when{width:8%}
td.v{text-align:center;font-size:.75em;font-weight:600;padding:.3em .2em}
th.night{font-size:.78em;text-align:center;overflow-wrap:normal}
td.when{font-size:.85em;overflow-wrap:normal}
td.v a{color:inherit}
.repro{background:#fde2e1;color:#8a1c13}.clean{background:#dff3e4;color:#14532d}.inconclusive{background:#fff4cc;color:#6b5200}
.fail{background:#b3261e;color:#fff}.error{background:#5c5c66;color:#fff}.relapse{background:#6b0f1a;color:#fff}.none{color:#aaa;background:#fff}
.flag{display:inline-block;margin:.1em .2em .1em 0;padding:0 .45em;border-radius:.3em;font-size:.8em;font-weight:700}
.flag.relapse,.flag.canary-missed{background:#6b0f1a;color:#fff}.flag.failing{background:#b3261e;color:#fff}
.flag.flaky{background:#ffd166}.flag.newly-fixed{background:#2d6a4f;color:#fff}.flag.stale{background:#ccc}
.why{color:#555;font-size:.82em}
.bisect{font-size:.82em;font-weight:600;margin-top:.2em}
.rate{display:block;font-weight:normal}
td.changed{box-shadow:inset 3px 0 #1d4ed8}
@media (max-width:1200px){col.label{width:17%} col.flags{width:11%} col.when{width:7%} td.v,th.night{font-size:.68em;padding:.3em .1em}}
@media print{body{max-width:none;background:#fff}.scroll{overflow:visible}}
</style></head><body>
<h1>{{.Name}}: {{.Rows}} cells, latest night {{.Latest}}</h1>
<div class="counts">{{range .Counts}}<span class="count{{if eq .N 0}} zero{{end}} {{.Class}}">{{.N}} {{.Flag}}</span>{{end}}</div>
{{range .Bugs}}
<h2>{{.Bug}}{{with .Title}} <small>{{.}}</small>{{end}}</h2>
<div class="scroll"><table>
<colgroup><col class="label"><col class="flags"><col class="when"><col class="when">{{range $.Nights}}<col>{{end}}</colgroup>
<tr><th>cell</th><th>flags</th><th>first fail</th><th>last pass</th>{{range $.Nights}}<th class="night">{{nightHead .}}</th>{{end}}</tr>
{{range .Rows}}<tr><td><b>{{.Label}}</b><div class="why">{{.Cell}}</div></td>
<td>{{range .Flags}}<span class="flag {{flagClass .}}">{{.}}</span>{{end}}{{range .Why}}<div class="why">{{.}}</div>{{end}}{{with .Bisect}}{{if .Line}}<div class="bisect">{{.Line}}{{with .Page}} <a href="{{.}}">bisection</a>{{end}}{{with .Summary}} <a href="{{.}}">summary.md</a>{{end}}</div>{{end}}{{end}}</td>
<td class="when">{{nightHead .FirstFail}}</td><td class="when">{{nightHead .LastPass}}</td>
{{range .Cells}}<td class="v {{.Class}}{{if .Changed}} changed{{end}}" title="{{.Title}}">{{if .Link}}<a href="{{.Link}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{with .Rate}}<span class="rate">{{.}}</span>{{end}}{{if .Resolved}}<span class="rate">{{if .Changed}}&#9650;{{end}}{{.Resolved}}</span>{{end}}</td>{{end}}</tr>
{{end}}</table></div>
{{end}}
</body></html>
`))
