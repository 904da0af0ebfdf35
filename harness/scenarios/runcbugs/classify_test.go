package runcbugs

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

// classifyCase is one row of a bug's Classify table: two observations, the
// verdict the kit's rule (kit.Decide) must reach and what its reason says.
type classifyCase struct {
	name             string
	control, trigger kit.Observation
	want             report.Result
	reason           string
}

// checkClassify runs a bug's Classify table through kit.Decide; a
// REPRODUCED verdict must also name its finding and give its evidence.
func checkClassify(t *testing.T, b *kit.Bug, cases []classifyCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			v := kit.Decide(b, tt.control, tt.trigger)
			if v.Result != tt.want || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("verdict = %s: %s; want %s saying %q", v.Result, v.Reason, tt.want, tt.reason)
			}
			if v.Result == report.Reproduced && (v.Kind == "" || len(v.Reasons) == 0) {
				t.Errorf("REPRODUCED without its finding: kind %q, reasons %q", v.Kind, v.Reasons)
			}
		})
	}
}

// facts is an observation of a side that ran, with its facts as pairs.
func facts(kv ...string) kit.Observation {
	o := kit.Observation{Ran: true, Facts: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Facts[kv[i]] = kv[i+1]
	}
	return o
}

// refused is a side runc would not start, with what it printed.
func refused(said string) kit.Observation {
	return kit.Observation{Failure: "runc did not start it", Said: said}
}
