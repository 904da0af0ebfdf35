package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/systemdbus"
)

// KindSystemdUnresponsive names the finding of a PID 1 that stopped
// answering on the system bus while its private socket still works: the
// signature of systemd#11818 (the cookie overrun) and of any other way
// PID 1's bus connection dies.
const KindSystemdUnresponsive = "systemd-bus-unresponsive"

// SystemdBus samples systemd over D-Bus on a node, continuously: Introspect
// and GetUnit through the system bus, a property read through the private
// socket, each with its own deadline, each stamped with PID 1's newest
// cookie. It never blocks on a hung systemd: a call past its deadline is a
// timeout sample.
type SystemdBus struct {
	Node node.Node
	// Interval between rounds of calls (default 250ms) and the deadline of
	// one call (default 2s).
	Interval, Timeout time.Duration
}

// BusWatch is a running SystemdBus.
type BusWatch struct {
	stream  *agent.Stream
	mu      sync.Mutex
	samples []systemdbus.Sample
}

// Start begins sampling.
func (d *SystemdBus) Start(ctx context.Context) (*BusWatch, error) {
	every, timeout := d.Interval, d.Timeout
	if every == 0 {
		every = 250 * time.Millisecond
	}
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	w := &BusWatch{}
	s, err := agent.StartStream(ctx, d.Node, func(line []byte) {
		var smp systemdbus.Sample
		if json.Unmarshal(line, &smp) == nil {
			w.mu.Lock()
			w.samples = append(w.samples, smp)
			w.mu.Unlock()
		}
	}, "dbus-probe", every.String(), timeout.String())
	if err != nil {
		return nil, fmt.Errorf("starting the systemd D-Bus probe on %s: %w", d.Node.Name(), err)
	}
	w.stream = s
	return w, nil
}

// Samples returns a copy of what was sampled so far.
func (w *BusWatch) Samples() []systemdbus.Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]systemdbus.Sample(nil), w.samples...)
}

// Stop ends sampling.
func (w *BusWatch) Stop() { w.stream.Stop() }

// Exited reports whether the probe died (and why) before Stop.
func (w *BusWatch) Exited() (bool, error) {
	select {
	case <-w.stream.Done():
		return true, w.stream.Err()
	default:
		return false, nil
	}
}

// BusState is the classification of a run of samples.
type BusState struct {
	// Unresponsive is set when the last Consecutive system-bus calls all
	// timed out while a private-socket call in the same span answered.
	Unresponsive bool
	// Since is the first of those timeouts.
	Since time.Time
	// Wrapped is set once PID 1's cookie was seen going past 0xffffffff.
	Wrapped bool
	// MaxCookie is the highest cookie seen before any wrap.
	MaxCookie uint32
	// AnsweredAfterWrap counts system-bus calls answered after the wrap.
	AnsweredAfterWrap int
	// SystemTimeouts and PrivateOK count samples of each kind.
	SystemTimeouts, SystemOK, PrivateOK int
	// LongestSilence is the longest span of system-bus calls in a row that
	// timed out and was followed by an answer (a silence that ended), and
	// LongestSilenceCalls how many calls it held.
	LongestSilence      time.Duration
	LongestSilenceCalls int
	Reasons             []string
}

// ClassifyBus reads a sample series. consecutive is how many system-bus
// timeouts in a row make systemd unresponsive, and only while the private
// socket answered promptly in the same span (within half of callTimeout):
// then PID 1 itself is alive and not overloaded, so the silence on the
// system bus is its connection's, not a slow machine's.
func ClassifyBus(samples []systemdbus.Sample, consecutive int, callTimeout time.Duration) BusState {
	var st BusState
	run := 0
	var runStart time.Time
	privateDuringRun := false
	prompt := float64(callTimeout.Milliseconds()) / 2
	for _, s := range samples {
		if !s.Wrapped && s.Cookie > st.MaxCookie {
			st.MaxCookie = s.Cookie
		}
		if s.Wrapped {
			st.Wrapped = true
		}
		switch s.Bus {
		case "private":
			if s.OK() {
				st.PrivateOK++
				if run > 0 && (prompt <= 0 || s.Ms < prompt) {
					privateDuringRun = true
				}
			}
		case "system":
			switch {
			case s.OK():
				st.SystemOK++
				if s.Wrapped {
					st.AnsweredAfterWrap++
				}
				if run > 0 && s.At.Sub(runStart) > st.LongestSilence {
					st.LongestSilence, st.LongestSilenceCalls = s.At.Sub(runStart), run
				}
				run, privateDuringRun = 0, false
			case s.Timeout:
				st.SystemTimeouts++
				if run == 0 {
					runStart = s.At
				}
				run++
			}
		}
	}
	if run >= consecutive && privateDuringRun {
		st.Unresponsive, st.Since = true, runStart
		st.Reasons = append(st.Reasons,
			fmt.Sprintf("the last %d calls to org.freedesktop.systemd1 over the system bus got no reply within their deadline", run),
			fmt.Sprintf("systemd's private socket (/run/systemd/private, what systemctl uses) answered within %s in the same span: PID 1 runs and is not overloaded, its bus connection does not answer", (callTimeout/2).Round(time.Millisecond)),
			fmt.Sprintf("PID 1's cookie was last seen at %d (%#x)", st.MaxCookie, st.MaxCookie))
	}
	return st
}

// LatencySummary is the p50/p95/max of answered calls per method.
func LatencySummary(samples []systemdbus.Sample) map[string][3]float64 {
	by := map[string][]float64{}
	for _, s := range samples {
		if s.OK() {
			k := s.Bus + " " + s.Method
			by[k] = append(by[k], s.Ms)
		}
	}
	out := map[string][3]float64{}
	for k, v := range by {
		sort.Float64s(v)
		out[k] = [3]float64{v[len(v)/2], v[int(0.95*float64(len(v)-1))], v[len(v)-1]}
	}
	return out
}
