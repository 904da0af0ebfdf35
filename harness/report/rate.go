package report

import (
	"fmt"
	"math"
	"strings"
)

// z95 is the normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// Rate is k reproductions in n counted repetitions, with the Wilson score
// 95% interval of the true rate. The interval is what a verdict may claim:
// 0 of 10 still allows a rate up to 0.28.
type Rate struct {
	K  int     `json:"k"`
	N  int     `json:"n"`
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// NewRate computes the Wilson interval of k in n (0, 1 when n is 0: nothing
// is known).
func NewRate(k, n int) Rate {
	r := Rate{K: k, N: n, Lo: 0, Hi: 1}
	if n == 0 {
		return r
	}
	p := float64(k) / float64(n)
	nn := float64(n)
	z2 := z95 * z95
	centre := (p + z2/(2*nn)) / (1 + z2/nn)
	half := z95 * math.Sqrt(p*(1-p)/nn+z2/(4*nn*nn)) / (1 + z2/nn)
	r.Lo, r.Hi = math.Max(0, centre-half), math.Min(1, centre+half)
	if k == 0 {
		r.Lo = 0
	}
	if k == n {
		r.Hi = 1
	}
	return r
}

// String is "3 of 5 (Wilson 95% 0.23-0.88)".
func (r Rate) String() string {
	if r.N == 0 {
		return "0 of 0"
	}
	return fmt.Sprintf("%d of %d (Wilson 95%% %.2f-%.2f)", r.K, r.N, r.Lo, r.Hi)
}

// CleanRunsToExclude is how many repetitions without a reproduction it
// takes for the Wilson upper bound to fall below rate: the smallest n with
// z^2/(n+z^2) < rate.
func CleanRunsToExclude(rate float64) int {
	if rate <= 0 {
		return math.MaxInt32
	}
	z2 := z95 * z95
	n := int(math.Floor(z2*(1-rate)/rate)) + 1
	return max(n, 1)
}

// Sampling is what a scenario declares about repeating it: what one
// repetition makes afresh, and what NOT REPRODUCED must rule out.
type Sampling struct {
	// Deterministic bugs happen every time their trigger is in force, so one
	// repetition that ran with the trigger shown in force rules the bug out.
	Deterministic bool `json:"deterministic"`
	// RuleOut is, for a racy bug, the reproduction rate a NOT REPRODUCED
	// verdict must exclude: the Wilson upper bound of 0 of n must fall
	// below it. It comes from the rate measured on affected versions.
	RuleOut float64 `json:"rule_out,omitempty"`
	// Why says why the bug is deterministic, or where RuleOut comes from.
	Why string `json:"why"`
	// Fresh says what each repetition makes anew and what that costs.
	Fresh string `json:"fresh"`
}

// Needed is how many clean repetitions decide NOT REPRODUCED.
func (s Sampling) Needed() int {
	if s.Deterministic {
		return 1
	}
	return CleanRunsToExclude(s.RuleOut)
}

// Describe says how many clean repetitions decide, and why.
func (s Sampling) Describe() string {
	if s.Deterministic {
		return "one repetition with the trigger in force decides: " + s.Why
	}
	return fmt.Sprintf("%d clean repetitions rule out a reproduction rate of %.2f (Wilson 95%% upper bound below it): %s",
		s.Needed(), s.RuleOut, s.Why)
}

// Repetition is one independent run of a scenario within an experiment.
type Repetition struct {
	N       int     `json:"n"`
	Result  Result  `json:"result"`
	Reason  string  `json:"reason"`
	Seconds float64 `json:"seconds"`
}

// Combine is the one verdict rule. REPRODUCED when at least one repetition
// was classified as the bug from evidence; NOT REPRODUCED only when every
// counted repetition ran with the trigger verified in force and the rate's
// upper bound is below what the scenario must rule out (one repetition for
// a deterministic bug); otherwise INCONCLUSIVE, saying how many more clean
// repetitions would decide. Repetitions that could not decide (setup
// failed, trigger not shown in force) are not counted.
func Combine(reps []Repetition, s Sampling) (Result, string, Rate) {
	var k, clean int
	var firstRepro, undecided []string
	for _, r := range reps {
		switch r.Result {
		case Reproduced:
			k++
			if len(firstRepro) == 0 {
				firstRepro = append(firstRepro, fmt.Sprintf("repetition %d: %s", r.N, r.Reason))
			}
		case NotReproduced:
			clean++
		default:
			undecided = append(undecided, fmt.Sprintf("repetition %d: %s", r.N, r.Reason))
		}
	}
	rate := NewRate(k, k+clean)
	single := len(reps) == 1
	switch {
	case k > 0:
		if single {
			return Reproduced, reps[0].Reason, rate
		}
		return Reproduced, fmt.Sprintf("reproduced in %s; %s", rate, firstRepro[0]), rate
	case clean == 0:
		if single {
			return Inconclusive, reps[0].Reason, rate
		}
		return Inconclusive, "no repetition decided: " + strings.Join(undecided, "; "), rate
	case len(undecided) > 0:
		return Inconclusive, fmt.Sprintf("%d of %d repetitions ran with the trigger in force and did not reproduce, but %d could not decide (%s): every repetition must be shown clean",
			clean, len(reps), len(undecided), strings.Join(undecided, "; ")), rate
	case clean >= s.Needed():
		why := fmt.Sprintf("%s; not reproduced in %s", reps[len(reps)-1].Reason, rate)
		if single {
			why = reps[0].Reason
		}
		if s.Deterministic {
			return NotReproduced, why + " (deterministic: one repetition with the trigger in force decides)", rate
		}
		return NotReproduced, fmt.Sprintf("%s: the rate is below %.2f (%s)", why, s.RuleOut, s.Why), rate
	}
	more := s.Needed() - clean
	return Inconclusive, fmt.Sprintf("%d clean repetition(s) do not rule out a reproduction rate of %.2f (Wilson 95%% upper bound %.2f): %d more clean repetition(s) would decide (REPEAT=%d); %s",
		clean, s.RuleOut, rate.Hi, more, s.Needed(), reps[len(reps)-1].Reason), rate
}
