package detect

import (
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/systemdbus"
)

func busSamples(spec string, cookie uint32, wrapped bool) []systemdbus.Sample {
	// spec: s = system answered, t = system timeout, p = private answered, x = private timeout
	var out []systemdbus.Sample
	at := time.Unix(1000, 0)
	for i, c := range spec {
		s := systemdbus.Sample{At: at.Add(time.Duration(i) * time.Second), Cookie: cookie + uint32(i), Wrapped: wrapped, Bus: "system", Method: "Introspect"}
		switch c {
		case 't':
			s.Timeout, s.Error = true, "no reply"
		case 'p':
			s.Bus = "private"
		case 'x':
			s.Bus, s.Timeout, s.Error = "private", true, "no reply"
		}
		out = append(out, s)
	}
	return out
}

func TestClassifyBus(t *testing.T) {
	healthy := ClassifyBus(busSamples("sspsspssp", 100, false), 3, 2*time.Second)
	if healthy.Unresponsive || healthy.Wrapped || healthy.SystemOK != 6 || healthy.PrivateOK != 3 {
		t.Errorf("healthy: %+v", healthy)
	}
	stalled := ClassifyBus(busSamples("sspttpttp", 0xffffff00, false), 3, 2*time.Second)
	if !stalled.Unresponsive || stalled.SystemTimeouts != 4 || len(stalled.Reasons) == 0 {
		t.Errorf("system bus timing out while the private socket answers must be unresponsive: %+v", stalled)
	}
	if !stalled.Since.Equal(time.Unix(1003, 0)) {
		t.Errorf("onset = %v, want the first timeout of the run", stalled.Since)
	}
	recovered := ClassifyBus(busSamples("ttptts", 5, false), 3, 2*time.Second)
	if recovered.Unresponsive {
		t.Errorf("an answered call ends the run of timeouts: %+v", recovered)
	}
	dead := ClassifyBus(busSamples("tttxtt", 5, false), 3, 2*time.Second)
	if dead.Unresponsive {
		t.Errorf("with the private socket silent too, PID 1 itself is stuck: not the bus-connection signature: %+v", dead)
	}
	// A private socket that answers only slowly (1.5 s of a 2 s deadline)
	// means a loaded PID 1, not a dead connection.
	slowPID1 := busSamples("sspttpttp", 0xffffff00, false)
	for i := range slowPID1 {
		if slowPID1[i].Bus == "private" {
			slowPID1[i].Ms = 1500
		}
	}
	if st := ClassifyBus(slowPID1, 3, 2*time.Second); st.Unresponsive {
		t.Errorf("timeouts while the private socket answers slowly are load, not the signature: %+v", st)
	}
	wrapped := ClassifyBus(append(busSamples("ssp", 0xfffffff0, false), busSamples("sssp", 0x80000001, true)...), 3, 2*time.Second)
	if !wrapped.Wrapped || wrapped.AnsweredAfterWrap != 3 || wrapped.MaxCookie != 0xfffffff2 {
		t.Errorf("wrapped: %+v", wrapped)
	}
}

func TestLatencySummary(t *testing.T) {
	s := busSamples("sssst", 1, false)
	for i, ms := range []float64{4, 1, 3, 2, 99} {
		s[i].Ms = ms
	}
	got := LatencySummary(s)["system Introspect"]
	if got != [3]float64{3, 3, 4} {
		t.Errorf("p50/p95/max of answered calls = %v (the timeout must not count)", got)
	}
}

func TestClassifyBusLongestSilenceThatEnded(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 4, 8, 52, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	samples := []systemdbus.Sample{
		{Bus: "system", At: at(0), Ms: 10},
		{Bus: "system", At: at(1), Timeout: true},
		{Bus: "system", At: at(4), Timeout: true},
		{Bus: "system", At: at(7), Timeout: true},
		{Bus: "system", At: at(20), Ms: 15},
		{Bus: "system", At: at(21), Timeout: true},
	}
	st := ClassifyBus(samples, 5, 2*time.Second)
	if st.LongestSilence != 19*time.Second || st.LongestSilenceCalls != 3 {
		t.Errorf("longest silence %s over %d calls; want 19s over 3 (the trailing timeout has not ended)", st.LongestSilence, st.LongestSilenceCalls)
	}
	if st.Unresponsive {
		t.Errorf("a silence that ended is not unresponsive")
	}
}
