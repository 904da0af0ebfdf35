package report

import (
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/evidence"
)

// Glance is the decisive evidence of a run, short enough for the first
// screen of the page and for an issue comment: what proves the verdict.
type Glance struct {
	// Title says what the facts are ("runc:[2:INIT] pid 20399, as the
	// detector saw it").
	Title string
	Facts []Fact
	// Rows are attempts side by side, for a run whose proof is that the
	// trigger was in force and nothing hung (baseline against trigger).
	Rows []GlanceRow
}

// GlanceRow is one attempt in the baseline-against-trigger table.
type GlanceRow struct {
	Label, Outcome, Seen string
}

// Decisive picks the evidence the verdict rests on: the first finding's
// blocked process (syscall, the fd with its pipe, wait channel,
// privileges) or its reasons; for a run without findings, the attempts
// with the control first.
func (r *Report) Decisive() Glance {
	for _, f := range r.Findings {
		g := Glance{Title: f.Summary}
		for _, s := range f.Processes {
			verb := callOf(s.Syscall)
			if verb == "" {
				continue
			}
			c := newPipeCall(s, verb)
			g.Title = fmt.Sprintf("%s (pid %d), as the detector saw it", s.Comm, s.PID)
			g.Facts = append(g.Facts, Fact{"syscall", fmt.Sprintf("%s(fd=%d, …, count=%d) — %s", verb, c.FD, c.Count, c.Headline)})
			if c.IsPipe {
				pipe := fmt.Sprintf("fd %d is %s: capacity %d bytes, %d queued unread", c.FD, c.Target, c.Size, c.Queued)
				if c.Full {
					pipe += " (full)"
				}
				if len(c.OwnEnds) > 0 {
					pipe += "; the same process holds " + strings.Join(c.OwnEnds, ", ")
				}
				g.Facts = append(g.Facts, Fact{"pipe", pipe})
			}
			g.Facts = append(g.Facts, Fact{"wait channel", orDash(s.Wchan)}, Fact{"NoNewPrivs", nnp(s)},
				Fact{"CapEff", strings.TrimSpace(s.CapEff + " " + strings.Join(s.CapEffNames, " "))})
			return g
		}
		for i, reason := range f.Reasons {
			if i == 6 {
				g.Facts = append(g.Facts, Fact{"", fmt.Sprintf("… %d more in the finding", len(f.Reasons)-i)})
				break
			}
			g.Facts = append(g.Facts, Fact{"", reason})
		}
		return g
	}
	if len(r.Attempts) == 0 {
		return Glance{}
	}
	g := Glance{Title: "what ran, the control first"}
	for _, a := range r.Attempts {
		label := a.Label
		if label == "" {
			label = fmt.Sprintf("attempt %d, trigger armed", a.N)
			if a.N == 0 {
				label = "control, no trigger"
			}
		}
		if a.Repetition > 1 {
			label = fmt.Sprintf("repetition %d, %s", a.Repetition, label)
		}
		g.Rows = append(g.Rows, GlanceRow{Label: label, Outcome: a.Outcome, Seen: strings.TrimSpace(a.InitOutput)})
		if len(g.Rows) == 8 {
			break
		}
	}
	return g
}

func nnp(s evidence.ProcessSnapshot) string {
	if s.NoNewPrivs {
		return "1 (set)"
	}
	return "0"
}
