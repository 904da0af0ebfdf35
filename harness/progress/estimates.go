package progress

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// keep is how many past durations of a step are remembered.
const keep = 5

// Estimates remembers how long named steps took on this machine.
type Estimates struct {
	path string
	mu   sync.Mutex
	m    map[string][]float64 // step key -> seconds, oldest first
}

var (
	openMu sync.Mutex
	opened = map[string]*Estimates{}
)

// EstimatesIn returns the estimates kept in dir (one shared value per
// directory in this process); an empty dir keeps them in memory only.
func EstimatesIn(dir string) *Estimates {
	openMu.Lock()
	defer openMu.Unlock()
	if e, ok := opened[dir]; ok {
		return e
	}
	e := &Estimates{m: map[string][]float64{}}
	if dir != "" {
		e.path = filepath.Join(dir, "step-durations.json")
		// A missing or damaged file only means no estimates yet.
		if data, err := os.ReadFile(e.path); err == nil {
			_ = json.Unmarshal(data, &e.m)
		}
	}
	opened[dir] = e
	return e
}

// Expect is the median of the step's remembered durations, 0 when the step
// has not run here before.
func (e *Estimates) Expect(key string) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	past := slices.Clone(e.m[key])
	if len(past) == 0 {
		return 0
	}
	slices.Sort(past)
	return time.Duration(past[len(past)/2] * float64(time.Second))
}

// Record remembers a successful step's duration and saves the file.
func (e *Estimates) Record(key string, d time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	past := append(e.m[key], d.Seconds())
	if len(past) > keep {
		past = past[len(past)-keep:]
	}
	e.m[key] = past
	if e.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(e.m, "", " ")
	if err != nil {
		return err
	}
	// Write and rename, so a concurrent reader never sees half a file.
	tmp, err := os.CreateTemp(filepath.Dir(e.path), ".step-durations-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), e.path)
}
