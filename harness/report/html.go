package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/textutil"
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

// ---- timeline chart ----

type chartView struct {
	Empty         bool
	Width, Height int
	LabelRight    int // x where step labels end
	// LabelClip is the width of the labels' own viewport: a label wider
	// than the estimate (a font wider than DejaVu Sans) is cut there
	// rather than drawn over the plot or past the chart's left edge.
	LabelClip int
	PlotX0    int
	PlotX1    int
	AxisY     int
	Ticks     []chartTick
	Rows      []chartRow
	Marks     []chartMark
	Omitted   int
	Span      string
	// Aside says what the chart leaves out to give the experiment its own
	// axis: the builds before it and the cleanup after it.
	Aside string
}

type chartTick struct {
	X      string
	Label  string
	Anchor string
}

type chartRow struct {
	Y, MidY, TextY string
	BarY           string
	Label          string
	Title          string
	Class          string
	Bar            bool
	X, W           string
	Note           string
	NoteX          string
	NoteAnchor     string
	NoteIn         bool
	Stripe         bool
}

type chartMark struct {
	X     string
	Class string
	Label string
	Title string
}

const (
	chartWidth    = 1050
	chartLabelW   = 290
	chartRowH     = 20
	chartTop      = 30
	chartMaxRows  = 80
	chartRightPad = 20
	// The chart's text sizes (CSS: svg.timeline text, .note).
	chartLabelPx = 11.5
	chartNotePx  = 10.5
)

// textWidth estimates the width in px of s set in a sans-serif face of
// size px, from above: each character class is given at least its width
// in DejaVu Sans (bold for notes), the widest face a reader is likely to
// have and the one the page checks render with. Labels are cut to fit by
// it, and notes placed by it; the chart also clips each region, so a wider
// face still never draws outside its place.
func textWidth(s string, px float64) float64 {
	var em float64
	for _, r := range s {
		switch {
		case strings.ContainsRune("iIjlft.,:;'|!()[]{}/\\- ", r):
			em += 0.42
		case strings.ContainsRune("mwMW@%", r):
			em += 1.05
		case r >= 'A' && r <= 'Z':
			em += 0.82
		case r < 128:
			em += 0.70
		default:
			em += 1.0
		}
	}
	return em * px
}

// fitWidth cuts s, with an ellipsis, to at most maxW px at size px.
func fitWidth(s string, px, maxW float64) string {
	if textWidth(s, px) <= maxW {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && textWidth(string(r)+"…", px) > maxW {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

func newChart(r *Report, t0 time.Time) chartView {
	var steps []Step
	for _, s := range r.Timeline {
		if !s.At.IsZero() {
			steps = append(steps, s)
		}
	}
	if len(steps) == 0 || t0.IsZero() {
		return chartView{Empty: true}
	}
	// Builds (tens of seconds, or nothing when cached) and the cleanup
	// would squeeze the experiment into a sliver of the axis: the chart
	// starts at the experiment's first step and ends at its last, and
	// says what it left out.
	var experiment []Step
	var buildSecs, cleanupSecs float64
	var builds, cleanups int
	for _, s := range steps {
		switch {
		case strings.HasPrefix(s.Name, "build "):
			builds++
			buildSecs += s.Seconds
		case s.Name == "cleanup":
			cleanups++
			cleanupSecs += s.Seconds
		default:
			experiment = append(experiment, s)
		}
	}
	var aside []string
	if builds > 0 {
		aside = append(aside, fmt.Sprintf("%s before it (%s)", plural(builds, "build", "builds"), fmtSeconds(buildSecs)))
	}
	if cleanups > 0 {
		aside = append(aside, fmt.Sprintf("%s after it (%s)", plural(cleanups, "cleanup step", "cleanup steps"), fmtSeconds(cleanupSecs)))
	}
	if len(experiment) > 0 {
		steps = experiment
		t0 = steps[0].At
		for _, s := range steps {
			if s.At.Before(t0) {
				t0 = s.At
			}
		}
	}
	// Too many steps: keep the operations and the failures, drop plain events.
	omitted := 0
	if len(steps) > chartMaxRows {
		var keep []Step
		for _, s := range steps {
			if (s.Seconds > 0 || (s.Status != "" && s.Status != "ok")) && len(keep) < chartMaxRows {
				keep = append(keep, s)
			}
		}
		for _, s := range steps {
			if len(keep) >= chartMaxRows {
				break
			}
			if !(s.Seconds > 0 || (s.Status != "" && s.Status != "ok")) {
				keep = append(keep, s)
			}
		}
		omitted = len(steps) - len(keep)
		steps = sortSteps(keep)
	}

	var end time.Time
	for _, s := range steps {
		e := s.At.Add(time.Duration(s.Seconds * float64(time.Second)))
		if end.IsZero() || e.After(end) {
			end = e
		}
	}
	span := end.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	c := chartView{Width: chartWidth, LabelRight: chartLabelW - 8, LabelClip: chartLabelW - 4, PlotX0: chartLabelW, PlotX1: chartWidth - chartRightPad,
		AxisY: chartTop - 6, Omitted: omitted, Span: fmtSeconds(span)}
	if len(aside) > 0 {
		c.Aside = "not drawn, in the table below: " + strings.Join(aside, ", ")
	}
	plotW := float64(c.PlotX1 - c.PlotX0)
	x := func(sec float64) float64 {
		sec = math.Max(0, math.Min(sec, span))
		return float64(c.PlotX0) + sec/span*plotW
	}
	step := niceStep(span / 8)
	for t := 0.0; t <= span+step/1000; t += step {
		tick := chartTick{X: f1(x(t)), Label: "+" + trimFloat(t) + " s", Anchor: "middle"}
		// A centred label near the right edge would run past it.
		if x(t)+textWidth(tick.Label, chartNotePx)/2 > float64(c.Width)-2 {
			tick.Anchor = "end"
		}
		c.Ticks = append(c.Ticks, tick)
	}
	for i, s := range steps {
		y := chartTop + i*chartRowH
		off := s.At.Sub(t0).Seconds()
		row := chartRow{Y: strconv.Itoa(y), MidY: strconv.Itoa(y + chartRowH/2), TextY: strconv.Itoa(y + chartRowH/2 + 4),
			BarY:  strconv.Itoa(y + chartRowH/2 - 5),
			Label: fitWidth(s.Name, chartLabelPx, float64(c.LabelRight-2)), Class: statusClass(s.Status), Stripe: i%2 == 1}
		row.Title = s.Name
		if s.Detail != "" {
			row.Title += ": " + s.Detail
		}
		row.Title += fmt.Sprintf(" (%+.3f s", off)
		if s.Seconds > 0 {
			row.Title += fmt.Sprintf(", took %.3f s", s.Seconds)
		}
		if s.Status != "" {
			row.Title += ", " + s.Status
		}
		row.Title += ")"
		x0 := x(off)
		x1 := x0
		if s.Seconds > 0 {
			row.Bar = true
			x1 = x(off + s.Seconds)
			w := math.Max(x1-x0, 2)
			row.X, row.W = f1(x0), f1(w)
			x1 = x0 + w
			row.Note = trimFloat(roundTo(s.Seconds, 3)) + " s"
		} else {
			row.X = f1(x0)
		}
		if s.Status == "failed" || s.Status == "timeout" {
			if row.Note != "" {
				row.Note += " "
			}
			row.Note += s.Status
		}
		if row.Note != "" {
			// Right of the mark, else inside the bar, else left of it, never
			// over the labels; a note that fits nowhere goes right and
			// is cut at the chart's edge (the table has it in full).
			textW := textWidth(row.Note, chartNotePx)
			switch {
			case x1+6+textW <= float64(c.Width)-2:
				row.NoteX, row.NoteAnchor = f1(x1+6), "start"
			case row.Bar && x1-x0 >= textW+12:
				row.NoteX, row.NoteAnchor, row.NoteIn = f1(x0+6), "start", true
			case x0-6-textW >= float64(c.PlotX0):
				row.NoteX, row.NoteAnchor = f1(x0-6), "end"
			default:
				row.NoteX, row.NoteAnchor = f1(x1+6), "start"
			}
		}
		c.Rows = append(c.Rows, row)
	}
	c.Height = chartTop + len(c.Rows)*chartRowH + 8

	mark := func(t time.Time, class, label, title string) {
		if t.IsZero() {
			return
		}
		c.Marks = append(c.Marks, chartMark{X: f1(x(t.Sub(t0).Seconds())), Class: class, Label: label, Title: title})
	}
	for i, f := range r.Findings {
		n := ""
		if len(r.Findings) > 1 {
			n = " " + strconv.Itoa(i+1)
		}
		mark(f.OnsetAt, "mk-onset", "onset"+n, "finding"+n+" onset: "+fmtTime(f.OnsetAt))
		mark(f.At, "mk-decided", "detected"+n, "finding"+n+" decided: "+fmtTime(f.At))
	}
	if r.TimeToVerdict > 0 {
		mark(t0.Add(time.Duration(r.TimeToVerdict*float64(time.Second))), "mk-verdict", "verdict",
			"verdict after "+fmtSeconds(r.TimeToVerdict))
	}
	return c
}

func sortSteps(s []Step) []Step {
	// insertion sort by time, stable: step lists are short.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].At.Before(s[j-1].At); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// niceStep rounds a tick interval to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func trimFloat(v float64) string {
	return strconv.FormatFloat(roundTo(v, 6), 'f', -1, 64)
}

// ---- findings ----

type findingView struct {
	F       Finding
	Index   int
	Latency string
	Snaps   []snapView
}

type snapView struct {
	S         evidence.ProcessSnapshot
	Anchor    string
	Cmdline   string
	Seccomp   string
	Syscall   string
	CallText  string
	Args      []argView
	Call      *pipeCall
	FDs       []fdView
	Frames    []frameView
	PipeFDs   int
	InSyscall bool
}

type argView struct {
	Name, Hex, Dec string
	Hot            bool
}

type fdView struct {
	evidence.FD
	IsPipe bool
	// Class is "", "pipe", "hot" (on the pipe a read/write is blocked on)
	// or "call" (the fd of a read/write that is not a pipe).
	Class string
	Note  string
}

type frameView struct {
	Text string
	Hot  bool
}

// pipeCall is a process caught in read(2) or write(2), with what the fd is.
type pipeCall struct {
	Verb     string
	Blocked  bool
	FD       int
	Count    uint64
	Found    bool
	Target   string
	IsPipe   bool
	Inode    uint64
	Size     int
	Queued   int
	Full     bool
	Larger   bool
	Wchan    string
	OwnEnds  []string
	Others   []string
	Headline string
}

// callOf says whether the snapshot's syscall is read or write; "" otherwise.
func callOf(sc evidence.Syscall) string {
	if len(sc.Args) == 0 {
		return ""
	}
	switch {
	case sc.Name == "write" || (sc.Name == "" && sc.Number == 1):
		return "write"
	case sc.Name == "read" || (sc.Name == "" && sc.Number == 0):
		return "read"
	}
	return ""
}

func newFindingView(i int, f Finding) findingView {
	fv := findingView{F: f, Index: i + 1, Latency: fmtDuration(f.Latency())}
	// hot maps a pipe inode to the processes blocked in read/write on it.
	type blocked struct {
		pid  int
		fd   int
		verb string
	}
	hot := map[uint64][]blocked{}
	for _, s := range f.Processes {
		verb := callOf(s.Syscall)
		if verb == "" {
			continue
		}
		fd, ok := s.FD(int(s.Syscall.Args[0]))
		if ok && fd.PipeInode != 0 {
			hot[fd.PipeInode] = append(hot[fd.PipeInode], blocked{s.PID, fd.Num, verb})
		}
	}
	for _, s := range f.Processes {
		sv := snapView{S: s, Anchor: fmt.Sprintf("f%d-pid%d", i+1, s.PID), Cmdline: s.CommandLine(),
			Seccomp: seccompMode(s.Seccomp)}
		verb := callOf(s.Syscall)
		if s.Syscall.Number >= 0 {
			sv.InSyscall = true
			name := s.Syscall.Name
			if name == "" {
				name = evidence.SyscallName(s.Syscall.Number)
			}
			sv.Syscall = fmt.Sprintf("%s (%d)", name, s.Syscall.Number)
		} else {
			sv.Syscall = "not in a syscall"
		}
		sv.CallText = sv.Syscall
		if verb != "" && len(s.Syscall.Args) >= 3 {
			a := s.Syscall.Args
			sv.CallText = fmt.Sprintf("%s(%d, 0x%x, %d)", verb, a[0], a[1], a[2])
		}
		for j, a := range s.Syscall.Args {
			av := argView{Name: fmt.Sprintf("arg%d", j), Hex: fmt.Sprintf("0x%x", a), Dec: strconv.FormatUint(a, 10)}
			if int64(a) < 0 {
				av.Dec += fmt.Sprintf(" (%d)", int64(a))
			}
			if verb != "" && j < 3 {
				av.Name += " " + []string{"fd", "buf", "count"}[j]
				av.Hot = j != 1
			}
			sv.Args = append(sv.Args, av)
		}
		var ownInode uint64
		ownFD := -1
		if verb != "" {
			ownFD = int(s.Syscall.Args[0])
			if fd, ok := s.FD(ownFD); ok {
				ownInode = fd.PipeInode
			}
			sv.Call = newPipeCall(s, verb)
		}
		for _, fd := range s.FDs {
			fdv := fdView{FD: fd, IsPipe: fd.PipeInode != 0}
			if fdv.IsPipe {
				fdv.Class = "pipe"
				sv.PipeFDs++
			}
			switch {
			case fd.Num == ownFD && verb != "":
				fdv.Class = "hot"
				if !fdv.IsPipe {
					fdv.Class = "call"
				}
				fdv.Note = fmt.Sprintf("◀ %s(2) is blocked on this fd", verb)
				if !sv.Call.Blocked {
					fdv.Note = fmt.Sprintf("◀ in %s(2) on this fd", verb)
				}
			case ownInode != 0 && fd.PipeInode == ownInode:
				fdv.Class = "hot"
				fdv.Note = fmt.Sprintf("same pipe as the %s(2) on fd %d", verb, ownFD)
				if verb == "write" && strings.Contains(fd.Access, "r") {
					fdv.Note += ": the writer itself holds a read end"
				}
			case fd.PipeInode != 0 && len(hot[fd.PipeInode]) > 0:
				fdv.Class = "hot"
				var who []string
				for _, b := range hot[fd.PipeInode] {
					if b.pid != s.PID {
						who = append(who, fmt.Sprintf("pid %d's %s(2) on fd %d", b.pid, b.verb, b.fd))
					}
				}
				if len(who) > 0 {
					fdv.Note = "same pipe as " + strings.Join(who, ", ")
				}
			}
			sv.FDs = append(sv.FDs, fdv)
		}
		if sv.Call != nil && sv.Call.Inode != 0 {
			for _, o := range f.Processes {
				if o.PID == s.PID {
					continue
				}
				for _, e := range o.PipeEnds(sv.Call.Inode) {
					sv.Call.Others = append(sv.Call.Others, fmt.Sprintf("pid %d %s fd %d (%s)", o.PID, o.Comm, e.Num, orDash(e.Access)))
				}
			}
		}
		for _, fr := range s.Stack {
			sv.Frames = append(sv.Frames, frameView{Text: fr, Hot: strings.Contains(fr, "pipe_")})
		}
		fv.Snaps = append(fv.Snaps, sv)
	}
	return fv
}

func newPipeCall(s evidence.ProcessSnapshot, verb string) *pipeCall {
	a := s.Syscall.Args
	c := &pipeCall{Verb: verb, FD: int(a[0]), Wchan: s.Wchan}
	state := strings.TrimSpace(s.State)
	c.Blocked = strings.HasPrefix(state, "S") || strings.HasPrefix(state, "D")
	if len(a) > 2 {
		c.Count = a[2]
	}
	if fd, ok := s.FD(c.FD); ok {
		c.Found = true
		c.Target = fd.Target
		c.IsPipe = fd.PipeInode != 0
		c.Inode = fd.PipeInode
		c.Size = fd.PipeSize
		c.Queued = fd.PipeQueued
		c.Full = c.IsPipe && c.Size > 0 && c.Queued >= c.Size
		c.Larger = c.IsPipe && c.Size > 0 && c.Count > uint64(c.Size)
		if c.IsPipe {
			for _, e := range s.PipeEnds(c.Inode) {
				if e.Num != c.FD {
					c.OwnEnds = append(c.OwnEnds, fmt.Sprintf("fd %d (%s)", e.Num, orDash(e.Access)))
				}
			}
		}
	}
	lead := "Caught "
	if c.Blocked {
		lead = "Blocked "
	}
	switch {
	case verb == "write" && c.IsPipe && c.Size > 0:
		c.Headline = fmt.Sprintf("%swriting %d bytes into %s %d-byte pipe", lead, c.Count, textutil.Article(c.Size), c.Size)
	case verb == "write" && c.IsPipe:
		c.Headline = fmt.Sprintf("%swriting %d bytes into a pipe", lead, c.Count)
	case verb == "write":
		c.Headline = fmt.Sprintf("%swriting %d bytes to fd %d", lead, c.Count, c.FD)
	case c.IsPipe && c.Size > 0:
		c.Headline = fmt.Sprintf("%sreading up to %d bytes from %s %d-byte pipe", lead, c.Count, textutil.Article(c.Size), c.Size)
	default:
		c.Headline = fmt.Sprintf("%sreading up to %d bytes from fd %d", lead, c.Count, c.FD)
	}
	return c
}

func seccompMode(m int) string {
	switch m {
	case 0:
		return "0 (disabled)"
	case 1:
		return "1 (strict)"
	case 2:
		return "2 (filter)"
	}
	return strconv.Itoa(m)
}
