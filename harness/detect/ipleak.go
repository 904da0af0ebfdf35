package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CNICall is one line of relapse's CNI ledger (the wrapper in front of the
// real plugin appends one per call).
type CNICall struct {
	At          time.Time `json:"at"`
	Command     string    `json:"command"`
	ContainerID string    `json:"container_id"`
	Netns       string    `json:"netns"`
	Ifname      string    `json:"ifname"`
	RC          int       `json:"rc"`
	IP          string    `json:"ip,omitempty"`
}

// ParseLedger reads the ledger: "EPOCH.NANOS CMD ID netns=PATH if=NAME rc=N ip=ADDR".
func ParseLedger(text string) ([]CNICall, error) {
	var calls []CNICall
	for n, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return calls, fmt.Errorf("ledger line %d: %q", n+1, line)
		}
		secs, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return calls, fmt.Errorf("ledger line %d: time %q: %w", n+1, f[0], err)
		}
		c := CNICall{At: time.Unix(0, int64(secs*1e9)).UTC(), Command: f[1], ContainerID: f[2]}
		for _, kv := range f[3:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "netns":
				c.Netns = v
			case "if":
				c.Ifname = v
			case "rc":
				c.RC, _ = strconv.Atoi(v)
			case "ip":
				c.IP = v
			}
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// LedgerSummary counts what the seed's report counted.
type LedgerSummary struct {
	Adds, Dels, Checks int
	// EmptyNetnsDels are DELs with no CNI_NETNS: the netns was already gone.
	EmptyNetnsDels int
	FailedCalls    int
	// AddsPerSandbox counts ADDs per container (sandbox) ID.
	AddsPerSandbox map[string]int
}

// SummarizeLedger folds the calls.
func SummarizeLedger(calls []CNICall) LedgerSummary {
	s := LedgerSummary{AddsPerSandbox: map[string]int{}}
	for _, c := range calls {
		if c.RC != 0 {
			s.FailedCalls++
		}
		switch c.Command {
		case "ADD":
			s.Adds++
			s.AddsPerSandbox[c.ContainerID]++
		case "DEL":
			s.Dels++
			if c.Netns == "" {
				s.EmptyNetnsDels++
			}
		case "CHECK":
			s.Checks++
		}
	}
	return s
}

// Allocation is one IP host-local holds: a file named after the IP whose
// first line is the container ID.
type Allocation struct {
	Network     string `json:"network"`
	IP          string `json:"ip"`
	ContainerID string `json:"container_id"`
	Ifname      string `json:"ifname"`
}

// ReadAllocations lists host-local's allocations under its data directory.
func ReadAllocations(dataDir string) ([]Allocation, error) {
	nets, err := os.ReadDir(dataDir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []Allocation
	for _, netDir := range nets {
		if !netDir.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dataDir, netDir.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			// last_reserved_ip.0 and the lock are bookkeeping, not allocations.
			if strings.HasPrefix(f.Name(), "last_reserved_ip") || f.Name() == "lock" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dataDir, netDir.Name(), f.Name()))
			if err != nil {
				return nil, err
			}
			lines := strings.Split(strings.ReplaceAll(string(data), "\r", ""), "\n")
			a := Allocation{Network: netDir.Name(), IP: f.Name(), ContainerID: strings.TrimSpace(lines[0])}
			if len(lines) > 1 {
				a.Ifname = strings.TrimSpace(lines[1])
			}
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP < out[j].IP })
	return out, nil
}

// LeakedIPs are the allocations whose container ID matches no ready
// sandbox: a sandbox that is gone, or stopped (its network was torn down,
// so whatever it still holds nothing will release; runtimes keep listing
// stopped sandboxes until they are removed). A sandbox being torn down
// right now still holds its IP for a moment, so callers look after the
// churn settled before calling it a leak.
func LeakedIPs(allocs []Allocation, readySandboxes map[string]bool) []Allocation {
	var leaked []Allocation
	for _, a := range allocs {
		if !readySandboxes[a.ContainerID] {
			leaked = append(leaked, a)
		}
	}
	return leaked
}

// Sandbox is one pod sandbox as the runtime lists it.
type Sandbox struct {
	ID      string `json:"id"`
	PodUID  string `json:"pod_uid"`
	PodName string `json:"pod_name"`
	Attempt uint32 `json:"attempt"`
	Ready   bool   `json:"ready"`
}

// ExtraSandboxes returns, per pod UID, the sandboxes of pods that have more
// than one: the signature of kubernetes#92613 for a completed pod.
func ExtraSandboxes(sbs []Sandbox) map[string][]Sandbox {
	by := map[string][]Sandbox{}
	for _, s := range sbs {
		by[s.PodUID] = append(by[s.PodUID], s)
	}
	for uid, list := range by {
		if len(list) < 2 {
			delete(by, uid)
		}
	}
	return by
}
