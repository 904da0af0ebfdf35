package explore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDraftCarriesTheShrunkScheduleAndReplay(t *testing.T) {
	f := &Finding{Trial: 4,
		Violation: Violation{Invariant: InvDelete, Detail: `kill+delete 3 of 9 did not return within 21s ("context deadline exceeded")`},
		Schedule:  Schedule{Steps: []Step{step(ActionScrape), step(ActionChurn, "tasks", "12"), step(ActionDelete)}},
		Shrunk: Shrunk{Schedule: Schedule{Steps: []Step{step(ActionChurn, "tasks", "12"), step(ActionDelete)}},
			Tally: Tally{K: 2, N: 2}},
		TimeToFind: 3 * time.Minute, Replay: "relapse chaos --containerd 2.4.2 --runc 1.5.3 --seed 7 --trial 4"}
	o := Options{Containerd: "2.4.2", Runc: "1.5.3", Seed: 7}
	path, err := WriteDraft(filepath.Join(t.TempDir(), "drafts"), f, o)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "chaos_7_4.go.txt" {
		t.Errorf("draft written as %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"package containerdbugs", "seed 7, trial 4", "containerd 2.4.2, runc 1.5.3",
		"Invariant: " + InvDelete, "2 of 2 replays broke it", "1. create-churn tasks=12", "2. delete",
		"Replay: " + f.Replay,
		// The detail is quoted as a Go string: its quotes cannot end it.
		`Summary:   "kill+delete 3 of 9 did not return within 21s (\"context deadline exceeded\")"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("draft lacks %q:\n%s", want, text)
		}
	}
}
