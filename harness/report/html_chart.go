package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The timeline chart of report.html: the run's steps, attempts and marks
// on one time axis, drawn as inline SVG from a chartView.

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
