package report

import (
	"fmt"
	"strings"
	"testing"
)

// A racy run's glance is its counts and one attempt of each outcome, not
// its first eight attempts: the control, then the first started and the
// first failed victim, with the failure's chain cut to its ends.
func TestRacyGlanceSumsUpTheAttempts(t *testing.T) {
	g := racyKitBug().Decisive()
	if !strings.HasPrefix(g.Title, "303 attempts in 3 repetitions") {
		t.Errorf("title %q", g.Title)
	}
	var labels, outcomes []string
	for _, row := range g.Rows {
		labels, outcomes = append(labels, row.Label), append(outcomes, row.Outcome)
	}
	want := []string{"control: the victim without the attacker", "victim, the exchange running", "victim, the exchange running"}
	if fmt.Sprint(labels) != fmt.Sprint(want) {
		t.Errorf("rows %q, want %q", labels, want)
	}
	if got := outcomes[2]; got != "runc run failed: …: possibly malicious path detected -- refusing to operate on /run/relapse/run/ea4ac2-7yhsix6a/r1/rootfs/shared/mnt-tmp" {
		t.Errorf("failed victim's outcome %q", got)
	}
	facts := make([]string, len(g.Facts))
	for i, f := range g.Facts {
		facts[i] = f.Value
	}
	if !strings.HasPrefix(facts[2], "repetition 3, INCONCLUSIVE: fewer than half") {
		t.Errorf("third fact %q", facts[2])
	}
	if last := facts[len(facts)-1]; last != "attempts: 3 controls (3 started and ran); 300 with the trigger (201 started and ran, 99 runc run failed)" {
		t.Errorf("tally %q", last)
	}
}

// More repetitions than the glance spells out end in a pointer to the table.
func TestRacyGlanceCapsTheRepetitions(t *testing.T) {
	r := racyKitBug()
	for n := 4; n <= 9; n++ {
		r.Repetitions = append(r.Repetitions, Repetition{N: n, Result: NotReproduced, Reason: "clean"})
	}
	g := r.Decisive()
	if got := g.Facts[glanceReps].Value; got != "… 6 more repetitions in the table below" {
		t.Errorf("fact after %d repetitions %q", glanceReps, got)
	}
}

// A deterministic run keeps its attempts one by one.
func TestDeterministicGlanceListsAttempts(t *testing.T) {
	r := racyKitBug()
	r.Verdict.Sampling = Sampling{Deterministic: true}
	if g := r.Decisive(); len(g.Rows) != glanceRows || len(g.Facts) != 0 {
		t.Errorf("%d rows, %d facts; want %d rows and no facts", len(g.Rows), len(g.Facts), glanceRows)
	}
}

func TestErrorEnds(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"short: enough", "short: enough"},
		{"runc run failed: a: b: " + strings.Repeat("m", 80) + ": readlink /x: invalid argument", "runc run failed: …: readlink /x: invalid argument"},
		{"what: mid: " + strings.Repeat("z", 130), "what: …: " + strings.Repeat("z", 130)},
		{strings.Repeat("n", 130), strings.Repeat("n", 130)},
	} {
		if got := errorEnds(c.in, 120); got != c.want {
			t.Errorf("errorEnds(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
