package report

import (
	"fmt"
	"slices"
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
	if r.Verdict.Sampling.RuleOut > 0 && len(r.Attempts) > glanceRows {
		return r.racyGlance()
	}
	g := Glance{Title: "what ran, the control first"}
	for _, a := range r.Attempts {
		g.Rows = append(g.Rows, glanceRow(a))
		if len(g.Rows) == glanceRows {
			break
		}
	}
	return g
}

// glanceRows is how many attempts the glance lists one by one: a
// deterministic run's baseline and trigger fit; a racy run's hundreds do not.
const glanceRows = 8

// glanceReps is how many repetitions' counts a racy run's glance spells out.
const glanceReps = 3

// racyGlance sums up a racy run (hundreds of attempts, one verdict per
// repetition): each repetition's counts in the scenario's own words, how
// many attempts ended each way, and as rows the control and the first
// attempt of each way. The first eight raw attempts of a race prove
// nothing about the other few hundred, and push the proof off the screen.
func (r *Report) racyGlance() Glance {
	g := Glance{Title: fmt.Sprintf("%d attempts in %s: the counts, the control, the first of each outcome",
		len(r.Attempts), plural(max(len(r.Repetitions), 1), "repetition", "repetitions"))}
	for i, rep := range r.Repetitions {
		if i == glanceReps {
			g.Facts = append(g.Facts, Fact{"", fmt.Sprintf("… %d more repetitions in the table below", len(r.Repetitions)-i)})
			break
		}
		g.Facts = append(g.Facts, Fact{"", fmt.Sprintf("repetition %d, %s: %s", rep.N, rep.Result, rep.Reason)})
	}
	var controls, triggered tally
	var control bool
	for _, a := range r.Attempts {
		if a.N == 0 {
			controls.add(a.Outcome)
			if !control {
				g.Rows, control = append(g.Rows, glanceRow(a)), true
			}
			continue
		}
		if triggered.add(a.Outcome) {
			row := glanceRow(a)
			row.Outcome = errorEnds(row.Outcome, 120)
			g.Rows = append(g.Rows, row)
		}
	}
	g.Facts = append(g.Facts, Fact{"", "attempts: " + strings.Join(slices.DeleteFunc([]string{controls.String("control", "controls"), triggered.String("with the trigger", "with the trigger")},
		func(s string) bool { return s == "" }), "; ")})
	return g
}

// tally counts attempts by how they ended: the outcome's first clause
// ("started and ran", "runc run failed"), without the run's own paths.
type tally struct {
	n     map[string]int
	order []string
	total int
}

// add counts an outcome and says whether it is the first of its way.
func (t *tally) add(outcome string) bool {
	way, _, _ := strings.Cut(outcome, ":")
	way, _, _ = strings.Cut(way, ";")
	way = strings.TrimSpace(way)
	if t.n == nil {
		t.n = map[string]int{}
	}
	t.n[way]++
	t.total++
	if t.n[way] == 1 {
		t.order = append(t.order, way)
		return true
	}
	return false
}

// String is the count of what was tallied with its ways ("3 controls (3 started and ran)").
func (t tally) String(one, many string) string {
	if t.total == 0 {
		return ""
	}
	ways := make([]string, len(t.order))
	for i, w := range t.order {
		ways[i] = fmt.Sprintf("%d %s", t.n[w], w)
	}
	return fmt.Sprintf("%s (%s)", plural(t.total, one, many), strings.Join(ways, ", "))
}

// errorEnds shortens an error chain ("runc run failed: a: b caused: c: d")
// longer than limit to its first clause and the last ones that fit: what
// failed and the innermost cause, the middle left to the attempts table.
func errorEnds(chain string, limit int) string {
	parts := strings.Split(chain, ": ")
	if len(chain) <= limit || len(parts) < 3 {
		return chain
	}
	tail := len(parts)
	for used := len(parts[0]); tail > 1 && used+len(parts[tail-1])+2 <= limit; tail-- {
		used += len(parts[tail-1]) + 2
	}
	if tail == len(parts) { // even the innermost cause alone is too long: keep it whole
		tail--
	}
	return parts[0] + ": …: " + strings.Join(parts[tail:], ": ")
}

// glanceRow is an attempt as the glance lists it, labelled when it has no
// label of its own.
func glanceRow(a Attempt) GlanceRow {
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
	return GlanceRow{Label: label, Outcome: a.Outcome, Seen: strings.TrimSpace(a.InitOutput)}
}

func nnp(s evidence.ProcessSnapshot) string {
	if s.NoNewPrivs {
		return "1 (set)"
	}
	return "0"
}
