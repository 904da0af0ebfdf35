package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Heartbeat is how often a plain log gets a "still running" line.
var Heartbeat = 30 * time.Second

// quiet is how long a step may take before a plain log gets a closing line.
const quiet = 5 * time.Second

// Terminal is a log writer for a terminal: lines written to it appear
// above the live bars of the steps in progress.
type Terminal struct {
	mu  sync.Mutex
	out io.Writer
	p   *mpb.Progress
	n   int // steps in progress
}

// NewLog returns what relapse should log to on f: a Terminal when f is a
// terminal, f itself otherwise (a CI log, a file, a pipe).
func NewLog(f *os.File) io.Writer {
	if term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		return &Terminal{out: f}
	}
	return f
}

// Write prints above the bars while any are shown.
func (t *Terminal) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p != nil {
		return t.p.Write(b)
	}
	return t.out.Write(b)
}

// Step is one long step being shown; End closes it.
type Step struct {
	end  func(err error)
	once sync.Once
}

// End closes the step with its outcome.
func (s *Step) End(err error) { s.once.Do(func() { s.end(err) }) }

// Begin shows a step on log: a bar on a Terminal, heartbeat lines on any
// other writer, nothing on nil. expect is the estimate (0: unknown).
func Begin(log io.Writer, label string, expect time.Duration) *Step {
	start := time.Now()
	switch w := log.(type) {
	case nil:
		return &Step{end: func(error) {}}
	case *Terminal:
		return w.begin(label, start, expect)
	default:
		return beginPlain(w, label, start, expect)
	}
}

func beginPlain(w io.Writer, label string, start time.Time, expect time.Duration) *Step {
	stop := every(Heartbeat, func() {
		fmt.Fprintf(w, "relapse: %s: %s so far%s\n", label, round(time.Since(start)), expectation(expect))
	})
	return &Step{end: func(err error) {
		stop()
		took := time.Since(start)
		switch {
		case err != nil:
			fmt.Fprintf(w, "relapse: %s: failed after %s\n", label, round(took))
		case took >= quiet:
			fmt.Fprintf(w, "relapse: %s: done in %s%s\n", label, round(took), expectation(expect))
		}
	}}
}

// begin adds a bar: its length is the estimate, filled by elapsed time and
// held short of the end until the step ends; a spinner when nothing is known.
func (t *Terminal) begin(label string, start time.Time, expect time.Duration) *Step {
	t.mu.Lock()
	if t.p == nil {
		t.p = mpb.New(mpb.WithOutput(t.out), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond))
	}
	t.n++
	p := t.p
	t.mu.Unlock()

	left := decor.Any(func(decor.Statistics) string {
		if expect <= 0 {
			return "first run here"
		}
		if rest := expect - time.Since(start); rest > 0 {
			return "~" + round(rest).String() + " left"
		}
		return "over the usual " + round(expect).String()
	})
	opts := []mpb.BarOption{
		mpb.PrependDecorators(decor.Name(label+" ", decor.WCSyncSpaceR), decor.Elapsed(decor.ET_STYLE_GO)),
		mpb.AppendDecorators(left),
	}
	var bar *mpb.Bar
	total := int64(expect / time.Millisecond)
	if total > 0 {
		bar = p.AddBar(total, opts...)
	} else {
		bar = p.AddSpinner(0, opts...)
	}
	stop := every(200*time.Millisecond, func() {
		if total > 0 {
			bar.SetCurrent(min(int64(time.Since(start)/time.Millisecond), total*99/100))
		}
	})
	return &Step{end: func(err error) {
		stop()
		if err != nil {
			bar.Abort(false)
		} else {
			bar.SetTotal(-1, true)
		}
		bar.Wait()
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.n--; t.n == 0 {
			t.p.Wait()
			t.p = nil
		}
	}}
}

// every calls fn each period until the returned stop is called; stop
// returns once fn will not run again.
func every(period time.Duration, fn func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				fn()
			}
		}
	}()
	return func() { close(quit); <-done }
}

func expectation(expect time.Duration) string {
	if expect <= 0 {
		return ""
	}
	return fmt.Sprintf(" (usually %s here)", round(expect))
}

func round(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
