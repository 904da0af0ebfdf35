package suitekit

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// A failing secondary check (the page, the host state) in an Ordered bug
// container skips no verdict spec, leaves the spec it ran in passing, and
// fails the suite in a node of its own that names the spec and the check;
// a wrong verdict still fails its spec, and skips nothing either. The
// suite in testdata/ordered is run as make suites runs one, with go test.
func TestSecondaryChecksSkipNoVerdict(t *testing.T) {
	reportPath := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command("go", "test", "-count=1", "./testdata/ordered", "-ginkgo.json-report="+reportPath)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed with a failing secondary check and a wrong verdict:\n%s", out)
	}
	data, rerr := os.ReadFile(reportPath)
	if rerr != nil {
		t.Fatalf("the suite wrote no report (%v): %v\n%s", rerr, err, out)
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("reading the suite's report: %v (%d suites)", err, len(reports))
	}
	states := map[string]types.SpecState{}
	var afterSuite *types.SpecReport
	for i, s := range reports[0].SpecReports {
		switch s.LeafNodeType {
		case types.NodeTypeIt:
			states[s.LeafNodeText] = s.State
		case types.NodeTypeAfterSuite:
			afterSuite = &reports[0].SpecReports[i]
		}
	}
	want := map[string]types.SpecState{
		"reproduces on the affected version": types.SpecStatePassed,
		"is fixed on the next version":       types.SpecStatePassed,
		"comes back with the fix reverted":   types.SpecStateFailed,
		"runs after a wrong verdict":         types.SpecStatePassed,
	}
	for spec, w := range want {
		if states[spec] != w {
			t.Errorf("spec %q: %v, want %v (all: %v)", spec, states[spec], w, states)
		}
	}
	if afterSuite == nil || afterSuite.State != types.SpecStateFailed {
		t.Fatalf("no failed AfterSuite reports the secondary failures: %+v", afterSuite)
	}
	msg := afterSuite.Failure.Message
	for _, s := range []string{`"a bug reproduces on the affected version", report page`, "report.html is wider than the window",
		`"a bug runs after a wrong verdict", host state`, "secondary checks failed (5)"} {
		if !strings.Contains(msg, s) {
			t.Errorf("the AfterSuite's failure lacks %q:\n%s", s, msg)
		}
	}
}
