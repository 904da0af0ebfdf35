package plegnotready

import (
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/scenario"
)

func TestDecide(t *testing.T) {
	t0 := time.Unix(10000, 0)
	end := t0.Add(3*time.Minute + 30*time.Second)
	pleg := "PLEG is not healthy: pleg was last seen active 3m5s ago; threshold is 3m0s"
	for name, tc := range map[string]struct {
		ws        []nodeready.Window
		stallEnd  time.Time
		recovered bool
		want      report.Result
		reason    string
	}{
		"window with the PLEG message, recovered": {[]nodeready.Window{{Start: t0.Add(185 * time.Second), End: end.Add(5 * time.Second), Message: pleg}}, end, true, report.Reproduced, "NotReady window"},
		"not back after the stall":                {[]nodeready.Window{{Start: t0.Add(185 * time.Second), Message: pleg}}, end, false, report.Inconclusive, "did not come back"},
		"too early for PLEG":                      {[]nodeready.Window{{Start: t0.Add(20 * time.Second), End: end, Message: pleg}}, end, true, report.Inconclusive, "before the 3m0s"},
		"another reason":                          {[]nodeready.Window{{Start: t0.Add(190 * time.Second), End: end, Message: "container runtime is down"}}, end, true, report.Inconclusive, "not with kubelet's PLEG message"},
		"stayed Ready":                            {nil, end, true, report.NotReproduced, "stayed Ready"},
		"stall too short":                         {nil, t0.Add(time.Minute), true, report.Inconclusive, "shorter than the PLEG threshold"},
	} {
		env := &scenario.Env{Run: &run.Run{Report: &report.Report{}}, Params: scenario.ValuesOf(map[string]string{"methods": "ListPodSandbox,ListContainers"})}
		got, reason, err := decide("relapse-node", tc.ws, t0, tc.stallEnd, tc.recovered, env)
		if err != nil || got != tc.want || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: %s %q %v; want %s containing %q", name, got, reason, err, tc.want, tc.reason)
		}
	}
}
