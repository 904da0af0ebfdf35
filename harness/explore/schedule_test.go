package explore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/run"
)

// testPipePages is a minimal fault kind for these tests only (the real
// kinds are harness/chaos's): it draws and parses, and refuses to arm.
type testPipePages struct{ pages int }

func (f testPipePages) Kind() string { return "test-pipe-pages" }
func (f testPipePages) Params() map[string]string {
	return map[string]string{"pages": strconv.Itoa(f.pages)}
}
func (f testPipePages) Arm(context.Context, *run.Run, chaos.Target) (chaos.Armed, error) {
	return nil, fmt.Errorf("test fault kind: not armable")
}

var testKind = chaos.FaultKind{Kind: "test-pipe-pages",
	Draw: func(rng *rand.Rand) chaos.Fault { return testPipePages{pages: 1 + rng.IntN(64)} },
	Parse: func(p map[string]string) (chaos.Fault, error) {
		n, err := strconv.Atoi(p["pages"])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("pages %q: want a positive count", p["pages"])
		}
		return testPipePages{pages: n}, nil
	}}

func init() { chaos.RegisterFault(testKind) }

func TestSameSeedSameSchedule(t *testing.T) {
	kinds := chaos.FaultKinds()
	for seed := range uint64(50) {
		a := Generate(TrialSeed(seed, 3), kinds, DefaultLimits)
		b := Generate(TrialSeed(seed, 3), kinds, DefaultLimits)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two schedules:\n%v\n%v", seed, a.Lines(), b.Lines())
		}
	}
}

// The schedule is pinned: a change to Generate changes every report's
// replay, so it must be deliberate (update this line with it).
func TestScheduleOfSeedOneTrialZeroIsPinned(t *testing.T) {
	got := strings.Join(Generate(TrialSeed(1, 0), nil, DefaultLimits).Lines(), "; ")
	want := "1. create-churn concurrency=5 nnp=true profile=docker-default tasks=32; 2. scrape loops=3; " +
		"3. create-churn concurrency=8 nnp=false profile=docker-default tasks=15; " +
		"4. create-churn concurrency=5 nnp=false profile=docker-default tasks=76; 5. scrape loops=1; " +
		"6. exec-storm concurrency=5 execs=6; 7. scrape loops=1"
	if got != want {
		t.Fatalf("seed 1 trial 0:\n got %s\nwant %s", got, want)
	}
}

func TestSchedulesVaryAndStayInLimits(t *testing.T) {
	kinds := chaos.FaultKinds()
	seen := map[string]bool{}
	faults := 0
	for trial := range 200 {
		s := Generate(TrialSeed(7, trial), kinds, DefaultLimits)
		seen[strings.Join(s.Lines(), ";")] = true
		faults += s.Faults()
		if n := len(s.Steps); n < DefaultLimits.MinSteps || n > DefaultLimits.MaxSteps+1 {
			t.Errorf("trial %d: %d steps", trial, n)
		}
		churns := 0
		for _, st := range s.Steps {
			if st.Action == ActionChurn {
				churns++
				if n := st.Int("tasks", 0); n < 10 || n > DefaultLimits.MaxTasks {
					t.Errorf("trial %d: churn of %d tasks", trial, n)
				}
			}
		}
		if churns == 0 {
			t.Errorf("trial %d has no churn: %v", trial, s.Lines())
		}
		if err := s.Check(); err != nil {
			t.Errorf("trial %d: a generated schedule does not read back: %v", trial, err)
		}
	}
	if len(seen) < 190 {
		t.Errorf("only %d distinct schedules in 200 trials", len(seen))
	}
	if faults == 0 {
		t.Error("no fault step drawn in 200 schedules with a registered kind")
	}
}

// needyFault needs a runtime wrapper.
type needyFault struct{ testPipePages }

func (needyFault) Kind() string    { return "test-needy" }
func (needyFault) Needs() []string { return []string{"wrapper"} }

func TestFaultsTheStackCannotTakeAreNotDrawn(t *testing.T) {
	needy := chaos.FaultKind{Kind: "test-needy", Draw: func(*rand.Rand) chaos.Fault { return needyFault{} },
		Parse: func(map[string]string) (chaos.Fault, error) { return needyFault{}, nil }}
	byKind := chaos.FaultKind{Kind: "test-needs-wrapper", Needs: []string{"wrapper"}, Draw: testKind.Draw, Parse: testKind.Parse}
	noWrapper := DefaultLimits
	noWrapper.Has = []string{chaos.NeedDaemon, chaos.NeedShims}
	for trial := range 100 {
		s := Generate(TrialSeed(5, trial), []chaos.FaultKind{needy, byKind}, noWrapper)
		if s.Faults() != 0 {
			t.Fatalf("trial %d drew a fault needing a wrapper: %v", trial, s.Lines())
		}
	}
	// The explorer's own stack installs the wrapper in every trial.
	withWrapper := DefaultLimits
	drawn := 0
	for trial := range 100 {
		drawn += Generate(TrialSeed(5, trial), []chaos.FaultKind{needy, byKind}, withWrapper).Faults()
	}
	if drawn == 0 {
		t.Error("a stack with a wrapper never drew the faults that need one")
	}
}

func TestNoKindsNoFaults(t *testing.T) {
	for trial := range 100 {
		if s := Generate(TrialSeed(3, trial), nil, DefaultLimits); s.Faults() != 0 {
			t.Fatalf("trial %d drew a fault with no kinds: %v", trial, s.Lines())
		}
	}
}

func TestCheckNamesWhatIsWrong(t *testing.T) {
	bad := Schedule{Steps: []Step{{Action: ActionChurn}, {Action: "reboot"}}}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), `step 2: unknown action "reboot"`) {
		t.Errorf("unknown action: %v", err)
	}
	bad = Schedule{Steps: []Step{{Action: ActionFault, Fault: "test-pipe-pages", Params: map[string]string{"pages": "x"}}}}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "want a positive count") {
		t.Errorf("bad fault params: %v", err)
	}
	bad = Schedule{Steps: []Step{{Action: ActionFault, Fault: "no-such-kind"}}}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "unknown fault kind") {
		t.Errorf("unknown fault kind: %v", err)
	}
}

func TestTrialSeedsDiffer(t *testing.T) {
	seen := map[uint64]bool{}
	for seed := range uint64(20) {
		for trial := range 20 {
			seen[TrialSeed(seed, trial)] = true
		}
	}
	if len(seen) != 400 {
		t.Fatalf("%d distinct trial seeds of 400", len(seen))
	}
}
