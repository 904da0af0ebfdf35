package evidence

import (
	"os"
	"sort"
	"strings"
)

// Matching selects the processes for which match is true.
func Matching(match func(Process) bool) func([]Process) []Process {
	return func(procs []Process) []Process {
		var out []Process
		for _, p := range procs {
			if match(p) {
				out = append(out, p)
			}
		}
		return out
	}
}

// IsRuncInit matches the `runc init` process (comm runc:[2:INIT] once it
// has set its name, argv "runc init" before).
func IsRuncInit(p Process) bool {
	if strings.HasPrefix(p.Comm, "runc:[") {
		return true
	}
	return len(p.Cmdline) >= 2 && strings.HasSuffix(p.Cmdline[0], "runc") && p.Cmdline[1] == "init"
}

// ProcessesUnder returns the live processes whose command line names dir,
// and their descendants (a container's init names nothing of relapse's).
func ProcessesUnder(procs []Process, dir string) []Process {
	children := map[int][]Process{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p)
	}
	seen := map[int]bool{}
	var out []Process
	var add func(p Process)
	add = func(p Process) {
		if seen[p.PID] || p.State == "Z" {
			return
		}
		seen[p.PID] = true
		out = append(out, p)
		for _, c := range children[p.PID] {
			add(c)
		}
	}
	for _, p := range procs {
		if p.PID != os.Getpid() && strings.Contains(p.CommandLine(), dir) {
			add(p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}
