package explore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// record writes the outcome into the run's report: chaos.json (the
// source, with the seed and schedules that replay it), chaos.md (the same
// for a reader), and the finding with its evidence on the report's page.
func record(env *scenario.Env, out *Outcome) {
	env.Condition("exploration", Summary(out))
	if f := out.Finding; f != nil {
		reasons := []string{
			fmt.Sprintf("invariant broke: %s (%s)", f.Violation.Invariant, f.Violation.Detail),
			fmt.Sprintf("shrunk schedule still breaks it in %s replays", f.Shrunk.Tally),
		}
		for _, c := range f.Claims {
			reasons = append(reasons, fmt.Sprintf("claimed by %s (%s): %s", c.Bug, c.Scenario, strings.Join(c.Reasons, "; ")))
		}
		env.Finding(report.Finding{Detector: "chaos", Kind: "invariant-violation",
			Summary: fmt.Sprintf("%s: %s; %s", f.Named(), f.Violation.Invariant, f.Violation.Detail),
			Reasons: reasons, At: time.Now().UTC(), Samples: f.Shrunk.Tally.N, Processes: f.Violation.Observed.Processes})
		env.Evidence("schedule (trial "+fmt.Sprint(f.Trial)+")", strings.Join(f.Schedule.Lines(), "\n"))
		env.Evidence("shrunk schedule ("+f.Shrunk.Tally.String()+" replays broke it)", strings.Join(f.Shrunk.Schedule.Lines(), "\n"))
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err == nil {
		err = env.SaveFile("chaos.json", "what the explorer did: seed, trials, the finding with its schedules and claims", data)
	}
	if err == nil {
		err = env.SaveFile("chaos.md", "the exploration for a reader", []byte(Markdown(out)))
	}
	if err != nil {
		env.Error("writing the exploration's files: " + err.Error())
	}
}

// Summary is the outcome in one line.
func Summary(out *Outcome) string {
	if f := out.Finding; f != nil {
		return fmt.Sprintf("%s after %s (trial %d of seed %d): %s; shrunk from %d to %d steps (%d faults), %s replays broke it",
			f.Named(), f.TimeToFind.Round(time.Second), f.Trial, out.Seed, f.Violation.Invariant,
			len(f.Schedule.Steps), len(f.Shrunk.Schedule.Steps), f.Shrunk.Schedule.Faults(), f.Shrunk.Tally)
	}
	line := fmt.Sprintf("no confirmed violation in %d trials over %s (seed %d, budget %s)",
		out.Trials, out.Elapsed.Round(time.Second), out.Seed, out.Budget)
	if n := len(out.Unconfirmed); n > 0 {
		u := out.Unconfirmed[0]
		line += fmt.Sprintf("; %d unconfirmed (no replay broke it again, or the shrink was interrupted), the first at step %d: %s: %s",
			n, u.Step+1, u.Invariant, u.Detail)
	}
	return line
}

// Markdown renders the outcome.
func Markdown(out *Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# relapse chaos, seed %d\n\n%s\n\n", out.Seed, Summary(out))
	fmt.Fprintf(&b, "- bound: %s\n- fault kinds drawn from: %v\n- trials: %d in %s (budget %s)\n",
		out.Bound, out.Faults, out.Trials, out.Elapsed.Round(time.Second), out.Budget)
	for _, v := range out.Unconfirmed {
		fmt.Fprintf(&b, "- unconfirmed (no replay broke it again): %s: %s\n", v.Invariant, v.Detail)
	}
	f := out.Finding
	if f == nil {
		return b.String()
	}
	fmt.Fprintf(&b, "\n## Finding: %s\n\n- invariant: %s\n- detail: %s\n- broke at step %d after %s\n- replay: `%s`\n",
		f.Named(), f.Violation.Invariant, f.Violation.Detail, f.Violation.Step+1, f.Violation.After.Round(time.Millisecond), f.Replay)
	fmt.Fprintf(&b, "\n### Schedule (seed %d)\n\n", f.Schedule.Seed)
	for _, l := range f.Schedule.Lines() {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	fmt.Fprintf(&b, "\n### Shrunk: %s replays broke it (%d replays spent)\n\n", f.Shrunk.Tally, f.Shrunk.Runs)
	for _, l := range f.Shrunk.Schedule.Lines() {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	for _, c := range f.Claims {
		fmt.Fprintf(&b, "\n### Claimed by %s (%s)\n\n%s\n\n", c.Bug, c.Scenario, c.Title)
		for _, r := range c.Reasons {
			fmt.Fprintf(&b, "- %s\n", r)
		}
	}
	return b.String()
}
