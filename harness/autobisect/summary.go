package autobisect

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/relapse-dev/relapse/harness/bisect"
	md "github.com/relapse-dev/relapse/harness/markdown"
	"github.com/relapse-dev/relapse/harness/redact"
	"github.com/relapse-dev/relapse/harness/results"
	"github.com/relapse-dev/relapse/harness/textutil"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Summary is summary.md: the relapse as an upstream issue would state it
// - what came back, since which commit or release, how it was found and
// how to reproduce it - with bisect's table of steps below. Every value
// comes from builds, remotes and cells, so each goes through package
// markdown, and the whole through redact (a remote URL may carry a
// token).
func Summary(p Plan, b results.Bisection, res *bisect.Result) string {
	var s strings.Builder
	bug, title := "", ""
	if res != nil {
		bug, title = res.Bug.ID, res.Bug.Title
	}
	if bug == "" {
		bug = b.Scenario
	}
	fmt.Fprintf(&s, "### %s %s: %s is back\n\n", md.Text(b.Component), md.Text(b.Selector), md.Text(bug))
	if title != "" {
		fmt.Fprintf(&s, "> %s\n\n", md.Text(title))
	}
	fmt.Fprintf(&s, "relapse runs the scenario %s nightly on %s %s. ", md.Code(b.Scenario), md.Text(b.Component), md.Code(b.Selector))
	if b.Good != "" {
		fmt.Fprintf(&s, "Night %s it resolved to %s and did not reproduce; ", md.Text(b.GoodNight), md.Code(b.Good))
	}
	fmt.Fprintf(&s, "night %s it resolved to %s and reproduced.\n\n", md.Text(p.Night), md.Code(b.Bad))
	what := "version"
	if p.Search == OverCommits {
		what = "commit"
	}
	switch {
	case b.Found():
		fmt.Fprintf(&s, "**First bad %s: %s** (last good: %s), found by bisecting the %s between them in %d experiment(s), %s.\n\n",
			what, md.Code(b.FirstBad), md.Code(b.LastGood), p.Search, b.Experiments, seconds(b.Seconds))
		if len(b.Skipped) > 0 {
			fmt.Fprintf(&s, "Undecided between them: %s.\n\n", md.Text(strings.Join(b.Skipped, ", ")))
		}
		fmt.Fprintf(&s, "Reproduce:\n\n%s\n", md.Fence("sh", reproduce(p, b)))
	case b.Missing != "":
		fmt.Fprintf(&s, "**Not bisected:** %s\n\n", md.Text(b.Missing))
	default:
		fmt.Fprintf(&s, "**The bisection named no first bad %s**", what)
		if b.Error != "" {
			fmt.Fprintf(&s, ": %s", md.Text(b.Error))
		}
		s.WriteString("\n\n")
	}
	if res != nil {
		s.WriteString(bisect.Markdown(res))
	}
	return redact.Text(s.String())
}

// reproduce is the command that runs the scenario at the first bad
// version or commit.
func reproduce(p Plan, b results.Bisection) string {
	v := strings.TrimPrefix(strings.Fields(b.FirstBad)[0], "v")
	if p.Search == OverCommits {
		v = versions.GitPrefix + p.Remote + "@" + v
	}
	args := []string{"relapse", "repro", "--scenario", p.Options.Scenario, "--version", p.Options.Component + "=" + v}
	for _, k := range slices.Sorted(maps.Keys(p.Options.Versions)) {
		args = append(args, "--version", k+"="+p.Options.Versions[k])
	}
	for _, k := range slices.Sorted(maps.Keys(p.Options.Params)) {
		args = append(args, "--param", k+"="+p.Options.Params[k])
	}
	return textutil.ShellQuote(args...)
}

func seconds(s float64) string {
	if s >= 120 {
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.0f s", s)
}
