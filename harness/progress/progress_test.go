package progress

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEstimatesAreTheMedianOfTheLastRunsAndSurviveAReload(t *testing.T) {
	dir := t.TempDir()
	e := EstimatesIn(dir)
	if got := e.Expect("build runc rc93"); got != 0 {
		t.Fatalf("Expect before any run = %v, want 0", got)
	}
	for _, s := range []float64{100, 20, 30, 25, 27, 26} { // the 100 s outlier ages out
		if err := e.Record("build runc rc93", time.Duration(s*float64(time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Expect("build runc rc93"); got != 26*time.Second {
		t.Errorf("Expect = %v, want the median of the last five, 26s", got)
	}
	openMu.Lock()
	delete(opened, dir) // as a new process would
	openMu.Unlock()
	if got := EstimatesIn(dir).Expect("build runc rc93"); got != 26*time.Second {
		t.Errorf("after reload Expect = %v, want 26s", got)
	}
}

// syncBuffer is a bytes.Buffer safe for the heartbeat goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The step ends once two heartbeats are in the log, however long a loaded
// machine takes to print them: what is checked is what was printed, not how
// many heartbeats fit into a fixed sleep.
func TestPlainLogGetsHeartbeatsAndAnOutcomeWithoutControlCharacters(t *testing.T) {
	old := Heartbeat
	Heartbeat = 20 * time.Millisecond
	defer func() { Heartbeat = old }()
	var out syncBuffer
	s := Begin(&out, "build kubernetes 1.19.3", 10*time.Minute)
	for deadline := time.Now().Add(time.Minute); strings.Count(out.String(), " so far ") < 2; time.Sleep(Heartbeat) {
		if time.Now().After(deadline) {
			s.End(nil)
			t.Fatalf("no two heartbeats (every %s) within a minute; log:\n%s", Heartbeat, out.String())
		}
	}
	s.End(errors.New("exit status 2"))
	s.End(nil) // a second End changes nothing
	got := out.String()
	if n := strings.Count(got, "build kubernetes 1.19.3: "); n < 3 {
		t.Errorf("want heartbeats and a closing line, got:\n%s", got)
	}
	if !strings.Contains(got, "so far (usually 10m0s here)") || !strings.HasSuffix(got, "failed after "+lastField(got)) {
		t.Errorf("unexpected lines:\n%s", got)
	}
	if strings.ContainsAny(got, "\r\x1b") {
		t.Errorf("plain log carries control characters: %q", got)
	}
}

// A step that ends under quiet prints nothing; one that a stalled machine
// kept past it may print its closing line. Which applies follows from what
// the test measured around the step, not from an assumption about the machine.
func TestQuickSuccessfulStepsStayQuietInAPlainLog(t *testing.T) {
	var out syncBuffer
	began := time.Now()
	Begin(&out, "docker import", 0).End(nil)
	took, got := time.Since(began), out.String()
	if took < quiet && got != "" {
		t.Errorf("a step of %s (under %s) printed %q", took, quiet, got)
	} else if got != "" && !strings.HasPrefix(got, "relapse: docker import: done in ") {
		t.Errorf("a step of %s printed %q, want nothing or its closing line", took, got)
	}
	Begin(nil, "anything", 0).End(nil) // no log: nothing to show, no panic
}

func lastField(s string) string {
	f := strings.Fields(s)
	return f[len(f)-1] + "\n"
}
