package explore

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func step(action string, kv ...string) Step {
	p := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return Step{Action: action, Params: p}
}

// needsScrapeThenChurn is a fake stack: the invariant breaks only when a
// scrape step comes before a churn step (the shape of containerd#6772).
func needsScrapeThenChurn(runs *int) Replayer {
	return func(_ context.Context, s Schedule) (bool, error) {
		*runs++
		scraping := false
		for _, st := range s.Steps {
			if st.Action == ActionScrape {
				scraping = true
			}
			if st.Action == ActionChurn && scraping {
				return true, nil
			}
		}
		return false, nil
	}
}

func TestShrinkKeepsOnlyWhatViolates(t *testing.T) {
	s := Schedule{Seed: 9, Steps: []Step{
		step(ActionChurn, "tasks", "10"),
		{Action: ActionFault, Fault: "test-pipe-pages", Params: map[string]string{"pages": "4"}},
		step(ActionExecStorm, "execs", "5"),
		step(ActionScrape, "loops", "3"),
		{Action: ActionFault, Fault: "test-pipe-pages", Params: map[string]string{"pages": "8"}},
		step(ActionChurn, "tasks", "40"),
		step(ActionDelete),
		step(ActionChurn, "tasks", "20"),
	}}
	runs := 0
	got, err := Shrink(context.Background(), s, 5, ShrinkOptions{Replays: 2, Need: 1}, needsScrapeThenChurn(&runs))
	if err != nil {
		t.Fatal(err)
	}
	want := "1. scrape loops=3; 2. create-churn tasks=40"
	if l := strings.Join(got.Schedule.Lines(), "; "); l != want {
		t.Fatalf("shrunk to %s, want %s", l, want)
	}
	if got.Schedule.Faults() != 0 || got.Tally != (Tally{K: 2, N: 2}) || got.Runs != runs || got.Exhausted {
		t.Errorf("shrunk = %+v (runs %d)", got, runs)
	}
}

// A flaky violation: k of n decides, and a candidate stops replaying once
// its outcome is decided.
func TestShrinkCountsKOfN(t *testing.T) {
	s := Schedule{Steps: []Step{step(ActionScrape), step(ActionExecStorm), step(ActionChurn)}}
	calls := 0
	// Every third replay of anything misses the violation.
	flaky := func(ctx context.Context, c Schedule) (bool, error) {
		calls++
		if calls%3 == 0 {
			return false, nil
		}
		return needsScrapeThenChurn(new(int))(ctx, c)
	}
	got, err := Shrink(context.Background(), s, 2, ShrinkOptions{Replays: 3, Need: 2}, flaky)
	if err != nil {
		t.Fatal(err)
	}
	if l := strings.Join(got.Schedule.Lines(), "; "); l != "1. scrape; 2. create-churn" {
		t.Fatalf("shrunk to %s", l)
	}
	if got.Tally.N != 3 || got.Tally.K < 2 {
		t.Errorf("final tally %s, want at least 2 of 3", got.Tally)
	}
}

func TestShrinkStopsAtItsBudget(t *testing.T) {
	s := Schedule{Steps: []Step{step(ActionExecStorm), step(ActionDelete), step(ActionScrape), step(ActionChurn)}}
	runs := 0
	got, err := Shrink(context.Background(), s, 3, ShrinkOptions{Replays: 2, Need: 2, MaxRuns: 3}, needsScrapeThenChurn(&runs))
	if err != nil {
		t.Fatal(err)
	}
	// 3 candidate replays, then the final 2 on top: a tally is always reported.
	if runs != 5 || !got.Exhausted || got.Tally.N != 2 {
		t.Errorf("runs %d, exhausted %v, tally %s: want the budget of 3 kept and the final 2 of 2 run", runs, got.Exhausted, got.Tally)
	}
}

func TestShrinkRefusesBadKOfNAndPassesErrors(t *testing.T) {
	if _, err := Shrink(context.Background(), Schedule{}, 0, ShrinkOptions{Replays: 1, Need: 2}, nil); err == nil {
		t.Error("k > n accepted")
	}
	boom := errors.New("containerd would not start")
	_, err := Shrink(context.Background(), Schedule{Steps: []Step{step(ActionScrape), step(ActionChurn)}}, 1,
		ShrinkOptions{Replays: 1, Need: 1}, func(context.Context, Schedule) (bool, error) { return false, boom })
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the replay's error", err)
	}
}
