package report

import (
	"context"
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/browser"
)

// FirstScreen is the height of a laptop's window: the verdict and the
// decisive evidence must be within it.
const FirstScreen = 900

// PageWidths are the windows a report page must fit: a desktop's and a
// small laptop's.
var PageWidths = []int{1400, 1024}

// CheckPage renders the report page in headless Chromium (pinned fonts,
// harness/browser) in a width x FirstScreen window and returns what a
// reader would find wrong: the page or any text wider than its box, a
// resource fetched, a link to a file that is not there, the verdict or
// the decisive evidence (when the run has findings or attempts) below the
// first screen. An error means the page could not be measured at all.
func CheckPage(ctx context.Context, page string, width int, wantGlance bool) ([]string, error) {
	l, err := browser.Inspect(ctx, page, width, FirstScreen)
	if err != nil {
		return nil, err
	}
	at := fmt.Sprintf("%s at %d px", page, width)
	var problems []string
	if l.ScrollWidth > l.Viewport {
		problems = append(problems, fmt.Sprintf("%s: the page is %d px wide, wider than the window", at, l.ScrollWidth))
	}
	if len(l.Overflow) > 0 {
		problems = append(problems, fmt.Sprintf("%s: text or boxes outside their box:\n  %s", at, strings.Join(l.Overflow, "\n  ")))
	}
	if len(l.Requests) > 0 {
		problems = append(problems, fmt.Sprintf("%s fetches resources: %s", at, strings.Join(l.Requests, ", ")))
	}
	if bad := browser.Unresolved(page, l.Links); len(bad) > 0 {
		problems = append(problems, fmt.Sprintf("%s links to files that are not there: %s", at, strings.Join(bad, ", ")))
	}
	if v, ok := l.IDs["verdict"]; !ok {
		problems = append(problems, at+": no verdict (#verdict) on the page")
	} else if v.Bottom > FirstScreen {
		problems = append(problems, fmt.Sprintf("%s: the verdict ends %d px down, below the first screen (%d px)", at, v.Bottom, FirstScreen))
	}
	if g, ok := l.IDs["glance"]; ok {
		if g.Bottom > FirstScreen {
			problems = append(problems, fmt.Sprintf("%s: the decisive evidence ends %d px down, below the first screen (%d px)", at, g.Bottom, FirstScreen))
		}
	} else if wantGlance {
		problems = append(problems, at+": a run with findings or attempts shows no decisive evidence (#glance) at the top")
	}
	return problems, nil
}

// CheckPages is CheckPage at every width of PageWidths, for a report whose
// page is at page.
func CheckPages(ctx context.Context, page string, r *Report) ([]string, error) {
	var all []string
	for _, w := range PageWidths {
		p, err := CheckPage(ctx, page, w, len(r.Findings) > 0 || len(r.Attempts) > 0)
		if err != nil {
			return all, err
		}
		all = append(all, p...)
	}
	return all, nil
}
