package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/versions"
)

//go:embed templates/report.html.tmpl
var htmlTemplateText string

var htmlTemplate = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"ts":     fmtTime,
	"secs":   fmtSeconds,
	"join":   strings.Join,
	"dash":   orDash,
	"plural": plural,
}).Parse(htmlTemplateText))

// RenderHTML writes r as one self-contained HTML page: inline CSS and SVG,
// no external resources, every value escaped.
func RenderHTML(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("report: nil report")
	}
	v := newView(r)
	// The policy hashes the page's own inline CSS and script: rendered
	// once to read them, then again with the policy in its <head>.
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, v); err != nil {
		return err
	}
	v.CSP = contentSecurityPolicy(buf.Bytes())
	buf.Reset()
	if err := htmlTemplate.Execute(&buf, v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// view is what the template renders: the report plus everything derived
// from it, so the template itself stays free of logic.
type view struct {
	R *Report
	// CSP is the page's Content-Security-Policy (see contentSecurityPolicy).
	CSP        string
	Verdict    verdictView
	Subject    *Subject
	Unrestored []Change
	Origin     time.Time
	Components []componentView
	Host       []Fact
	Changes    []changeView
	Steps      []stepView
	Chart      chartView
	Findings   []findingView
	Evidence   []blockView
	Glance     Glance
}

type verdictView struct {
	Label    string
	Class    string // repro, norepro, inconclusive, unknown
	Expected string
	ExpClass string
	// Match is "match", "mismatch", or "" when nothing was expected.
	Match string
}

type componentView struct {
	versions.Artifact
	Build string
}

type changeView struct {
	Change
	AppliedAt, RestoredAt string
}

type stepView struct {
	Step
	Offset string
	Class  string
}

func newView(r *Report) *view {
	v := &view{R: r, Unrestored: r.Unrestored(), Glance: r.Decisive()}
	v.Verdict = verdictView{Label: string(r.Verdict.Result), Class: resultClass(r.Verdict.Result),
		Expected: string(r.Verdict.Expected), ExpClass: resultClass(r.Verdict.Expected)}
	if v.Verdict.Label == "" {
		v.Verdict.Label = "NO VERDICT"
	}
	if r.Verdict.Expected != "" {
		v.Verdict.Match = "mismatch"
		if r.Verdict.Matches {
			v.Verdict.Match = "match"
		}
	}
	if a, ok := r.Subject(); ok {
		v.Subject = &a
	}
	for _, a := range r.Components {
		cv := componentView{Artifact: a}
		switch {
		case a.Cached:
			cv.Build = "cached"
		case a.BuildSeconds > 0:
			cv.Build = "built in " + fmtSeconds(a.BuildSeconds)
		default:
			cv.Build = "-"
		}
		v.Components = append(v.Components, cv)
	}
	v.Host = hostFacts(r.Host)
	for _, c := range r.Changes {
		v.Changes = append(v.Changes, changeView{Change: c, AppliedAt: fmtTime(c.AppliedAt), RestoredAt: fmtTime(c.RestoredAt)})
	}
	v.Origin = origin(r)
	for _, s := range r.Timeline {
		sv := stepView{Step: s, Offset: "-", Class: statusClass(s.Status)}
		if !s.At.IsZero() && !v.Origin.IsZero() {
			sv.Offset = fmt.Sprintf("%+.3f s", s.At.Sub(v.Origin).Seconds())
		}
		v.Steps = append(v.Steps, sv)
	}
	v.Chart = newChart(r, v.Origin)
	for i, f := range r.Findings {
		v.Findings = append(v.Findings, newFindingView(i, f))
	}
	for _, b := range r.Evidence {
		lines := strings.Count(strings.TrimRight(b.Text, "\n"), "\n") + 1
		v.Evidence = append(v.Evidence, blockView{Block: b, Lines: lines, Long: lines > 25 || len(b.Text) > 3000})
	}
	return v
}

type blockView struct {
	Block
	Lines int
	Long  bool
}

func hostFacts(h evidence.HostFacts) []Fact {
	cpus := ""
	if h.CPUs > 0 {
		cpus = strconv.Itoa(h.CPUs)
	}
	capNote := ""
	if len(h.CapBndMissing) > 0 {
		capNote = strings.Join(h.CapBndMissing, " ")
	} else if h.Kernel != "" {
		capNote = "none"
	}
	return []Fact{
		{"hostname", h.Hostname},
		{"kernel", h.Kernel},
		{"kernel (full)", h.KernelFull},
		{"OS", h.OS},
		{"arch", h.Arch},
		{"CPUs", cpus},
		{"memory", h.MemTotal},
		{"libseccomp", h.Libseccomp},
		{"cgroup mode", h.CgroupMode},
		{"PID 1", h.PID1},
		{"missing from bounding set", capNote},
	}
}

// origin is time zero of the timeline: Started, else the first step.
func origin(r *Report) time.Time {
	if !r.Started.IsZero() {
		return r.Started
	}
	var t time.Time
	for _, s := range r.Timeline {
		if !s.At.IsZero() && (t.IsZero() || s.At.Before(t)) {
			t = s.At
		}
	}
	return t
}

func resultClass(r Result) string {
	switch r {
	case Reproduced:
		return "repro"
	case NotReproduced:
		return "norepro"
	case Inconclusive:
		return "inconclusive"
	}
	return "unknown"
}

func statusClass(status string) string {
	switch status {
	case "ok", "failed", "timeout", StatusKilled:
		return "st-" + status
	case "":
		return "st-event"
	}
	return "st-other"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

func fmtSeconds(s float64) string {
	if s == 0 {
		return "-"
	}
	out := fmt.Sprintf("%.3f s", s)
	if s >= 60 {
		d := time.Duration(s * float64(time.Second)).Round(time.Second)
		out += " (" + d.String() + ")"
	}
	return out
}

func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmtSeconds(d.Seconds())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
