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

func TestPlainLogGetsHeartbeatsAndAnOutcomeWithoutControlCharacters(t *testing.T) {
	old := Heartbeat
	Heartbeat = 20 * time.Millisecond
	defer func() { Heartbeat = old }()
	var out syncBuffer
	s := Begin(&out, "build kubernetes 1.19.3", 10*time.Minute)
	time.Sleep(70 * time.Millisecond)
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

func TestQuickSuccessfulStepsStayQuietInAPlainLog(t *testing.T) {
	var out syncBuffer
	Begin(&out, "docker import", 0).End(nil)
	if out.String() != "" {
		t.Errorf("a step under %s printed %q", quiet, out.String())
	}
	Begin(nil, "anything", 0).End(nil) // no log: nothing to show, no panic
}

func lastField(s string) string {
	f := strings.Fields(s)
	return f[len(f)-1] + "\n"
}
