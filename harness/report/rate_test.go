package report

import (
	"math"
	"strings"
	"testing"
)

// The upper bounds the field notes quote for 0 of n: 0.28 at 10, 0.11 at
// 30, 0.037 at 100; and a textbook 3 of 10.
func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.278}, {0, 30, 0, 0.114}, {0, 100, 0, 0.037}, {3, 10, 0.108, 0.603}, {10, 10, 0.722, 1}, {0, 1, 0, 0.793},
	} {
		r := NewRate(tc.k, tc.n)
		if math.Abs(r.Lo-tc.lo) > 0.002 || math.Abs(r.Hi-tc.hi) > 0.002 {
			t.Errorf("%d of %d: [%.3f, %.3f], want [%.3f, %.3f]", tc.k, tc.n, r.Lo, r.Hi, tc.lo, tc.hi)
		}
	}
	if got := NewRate(0, 0); got.Lo != 0 || got.Hi != 1 {
		t.Errorf("0 of 0 = %+v: nothing is known", got)
	}
	for rate, want := range map[float64]int{0.5: 4, 0.3: 9, 0.8: 1} {
		n := CleanRunsToExclude(rate)
		if n != want || NewRate(0, n).Hi >= rate || (n > 1 && NewRate(0, n-1).Hi < rate) {
			t.Errorf("CleanRunsToExclude(%.1f) = %d, want %d", rate, n, want)
		}
	}
}

func reps(results ...Result) []Repetition {
	var out []Repetition
	for i, r := range results {
		out = append(out, Repetition{N: i + 1, Result: r, Reason: "reason " + string(r)})
	}
	return out
}

func TestCombine(t *testing.T) {
	det := Sampling{Deterministic: true, Why: "the write always blocks"}
	racy := Sampling{RuleOut: 0.5, Why: "1.6.2 reproduced 10 of 10"}
	for name, tc := range map[string]struct {
		reps []Repetition
		s    Sampling
		want Result
		in   string
	}{
		"one reproduction decides":             {reps(NotReproduced, Reproduced, NotReproduced), racy, Reproduced, "reproduced in 1 of 3"},
		"deterministic, one clean run":         {reps(NotReproduced), det, NotReproduced, "one repetition with the trigger in force decides"},
		"racy, one clean run is not enough":    {reps(NotReproduced), racy, Inconclusive, "3 more clean repetition(s) would decide"},
		"racy, four clean runs decide":         {reps(NotReproduced, NotReproduced, NotReproduced, NotReproduced), racy, NotReproduced, "below 0.50"},
		"an undecided repetition spoils clean": {reps(NotReproduced, Inconclusive, NotReproduced, NotReproduced, NotReproduced), racy, Inconclusive, "could not decide"},
		"nothing decided":                      {reps(Inconclusive), det, Inconclusive, "reason INCONCLUSIVE"},
		"reproduced wins over undecided ones":  {reps(Inconclusive, Reproduced), det, Reproduced, "repetition 2"},
	} {
		got, why, _ := Combine(tc.reps, tc.s)
		if got != tc.want || !strings.Contains(why, tc.in) {
			t.Errorf("%s: %s %q; want %s containing %q", name, got, why, tc.want, tc.in)
		}
	}
}
