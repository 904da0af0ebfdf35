package measure

import (
	"sort"
	"sync"
	"time"
)

// Latencies collects the durations of one kind of operation as a run
// measures them (task creates, container starts), so that a threshold
// scales with what this machine does now instead of what a quiet machine
// did once. Safe for concurrent use.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = append(l.d, d)
}

// Count is how many durations were recorded.
func (l *Latencies) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// Percentile is the p-th percentile (0..100), 0 when nothing was recorded.
func (l *Latencies) Percentile(p float64) time.Duration {
	l.mu.Lock()
	s := append([]time.Duration(nil), l.d...)
	l.mu.Unlock()
	if len(s) == 0 {
		return 0
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p/100*float64(len(s)-1)+0.5)]
}

// MinSamples is how many durations a scaled threshold needs before the
// run's own measurements count.
const MinSamples = 8

// Scaled is factor times the 99th percentile measured so far, never less
// than floor (and floor itself until MinSamples durations were seen).
func (l *Latencies) Scaled(floor time.Duration, factor float64) time.Duration {
	if l == nil || l.Count() < MinSamples {
		return floor
	}
	return max(floor, time.Duration(factor*float64(l.Percentile(99))))
}
