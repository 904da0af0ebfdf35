package bisect

import (
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/versions"
)

// A bisection's endpoints may be selectors (an automatic bisection's bad
// end is what latest resolved to); they are resolved against the one
// listing the candidates come from. The listing here is a fake proxy's.
func TestEndpointsResolveSelectorsAgainstTheListing(t *testing.T) {
	listed := []string{"v1.4.3", "v1.3.9", "v1.5.0-rc.1", "v1.4.4", "v1.5.0", "v1.5.2", "v1.6.0-rc.1", "v1.5.3"}
	today := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		good, bad  string
		want       string // candidates, or the error's text
		wantLabels string
	}{
		{"latest is the newest release, not a pre-release", "v1.4.4", "latest",
			"v1.4.4 v1.5.0-rc.1 v1.5.0 v1.5.2 v1.5.3", "v1.4.4=good v1.5.3=bad"},
		{"latest-X.Y is the newest patch of its line", "latest-1.4", "v1.5.2",
			"v1.4.4 v1.5.0-rc.1 v1.5.0 v1.5.2", "v1.4.4=good v1.5.2=bad"},
		{"both ends selectors", "latest-1.3", "latest-1.5",
			"v1.3.9 v1.4.3 v1.4.4 v1.5.0-rc.1 v1.5.0 v1.5.2 v1.5.3", "v1.3.9=good v1.5.3=bad"},
		{"a line the listing lacks", "latest-1.2", "latest", "no release of the 1.2 line is listed", ""},
		{"maintained names several versions", "v1.4.4", "maintained", "names 3 versions", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labelled := map[string]Label{tc.good: Good, tc.bad: Bad}
			got, err := endpoints(versions.Runc, listed, labelled, today)
			if err != nil {
				if tc.wantLabels != "" || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if tc.wantLabels == "" {
				t.Fatalf("candidates %v, want an error saying %q", got, tc.want)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("candidates %v, want %s", got, tc.want)
			}
			var labels []string
			for _, v := range got {
				if l, ok := labelled[v]; ok {
					labels = append(labels, v+"="+string(l))
				}
			}
			if strings.Join(labels, " ") != tc.wantLabels || len(labelled) != 2 {
				t.Errorf("labels %v (of %v), want %s", labels, labelled, tc.wantLabels)
			}
		})
	}
}
