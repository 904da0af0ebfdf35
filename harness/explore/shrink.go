package explore

import (
	"context"
	"fmt"
)

// Tally is how many of N replays of a schedule broke the same invariant.
type Tally struct {
	K int `json:"k"`
	N int `json:"n"`
}

func (t Tally) String() string { return fmt.Sprintf("%d of %d", t.K, t.N) }

// Replayer runs a schedule once and says whether it broke the invariant
// being shrunk (the same rule, not any violation).
type Replayer func(ctx context.Context, s Schedule) (bool, error)

// ShrinkOptions say how hard to shrink.
type ShrinkOptions struct {
	// Replays (n) and Need (k): a candidate still violates when at least
	// Need of Replays runs break the invariant; it stops replaying as soon
	// as the outcome is decided either way.
	Replays, Need int
	// MaxRuns bounds the replays the candidates may spend (each is a
	// trial against the real stack); the final n replays come on top.
	MaxRuns int
}

// Shrunk is the outcome of a shrink.
type Shrunk struct {
	Schedule Schedule `json:"schedule"`
	// Tally is the last full replay of Schedule.
	Tally Tally `json:"tally"`
	// Runs is how many replays the shrink spent; Exhausted says MaxRuns
	// stopped it before every step was tried.
	Runs      int  `json:"runs"`
	Exhausted bool `json:"exhausted,omitempty"`
}

// Shrink cuts s after the step the violation happened in (later steps
// cannot have caused it), then removes one step at a time (faults first,
// so the fewest faults remain, then workload steps from the front),
// keeping a removal when the rest still violates in k of n replays. The
// schedule it ends with is replayed n times (beyond MaxRuns) so its k of
// n is reported.
func Shrink(ctx context.Context, s Schedule, violatedAt int, o ShrinkOptions, replay Replayer) (Shrunk, error) {
	if o.Replays < 1 || o.Need < 1 || o.Need > o.Replays {
		return Shrunk{}, fmt.Errorf("shrink: need %d of %d replays: want 1 <= k <= n", o.Need, o.Replays)
	}
	out := Shrunk{}
	if violatedAt >= 0 && violatedAt < len(s.Steps)-1 {
		s = Schedule{Seed: s.Seed, Steps: s.Steps[:violatedAt+1]}
	}
	budgetLeft := func() bool { return o.MaxRuns <= 0 || out.Runs < o.MaxRuns }
	// still replays cand until k violations or n-k+1 passes decide it;
	// the final replay (full) runs all n, outside MaxRuns, so the schedule
	// reported always has its k of n.
	still := func(cand Schedule, full bool) (Tally, error) {
		var t Tally
		for t.N < o.Replays && (full || (t.K < o.Need && t.N-t.K <= o.Replays-o.Need)) {
			if !full && !budgetLeft() {
				out.Exhausted = true
				break
			}
			v, err := replay(ctx, cand)
			out.Runs++
			if err != nil {
				return t, err
			}
			t.N++
			if v {
				t.K++
			}
		}
		return t, nil
	}
	for _, faultsFirst := range []bool{true, false} {
		for i := 0; i < len(s.Steps) && len(s.Steps) > 1; {
			if s.Steps[i].IsFault() != faultsFirst {
				i++
				continue
			}
			if !budgetLeft() {
				out.Exhausted = true
				break
			}
			cand := s.Without(i)
			t, err := still(cand, false)
			if err != nil {
				return out, err
			}
			if t.K >= o.Need {
				s = cand // step i was not needed; the next step is now at i
				continue
			}
			i++
		}
	}
	t, err := still(s, true)
	out.Schedule, out.Tally = s, t
	return out, err
}
