package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/relapse-dev/relapse/harness/evidence"
)

// BoundedRuntimeCommand is the agent command that runs an OCI runtime with
// the bundle cut down to what this host can grant: capabilities outside
// the caller's bounding set, and an oom_score_adj below its own when
// CAP_SYS_RESOURCE is missing.
const BoundedRuntimeCommand = "bounded-runtime"

// BoundedRuntimeScript is an OCI runtime for a daemon's --add-runtime (a
// path, no arguments): it hands every call to runtime through the agent.
func BoundedRuntimeScript(agentPath, runtime string) string {
	return fmt.Sprintf("#!/bin/sh\n# relapse: %s with capabilities outside this host's bounding set dropped from the bundle\nexec %s %s %s \"$@\"\n",
		runtime, agentPath, BoundedRuntimeCommand, runtime)
}

// WriteBoundedRuntime builds the agent and writes, at path, a runtime
// script for a daemon's --add-runtime that runs runtime bounded.
func WriteBoundedRuntime(ctx context.Context, cacheRoot, path, runtime string) error {
	agentBin, err := Build(ctx, cacheRoot)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(BoundedRuntimeScript(agentBin, runtime)), 0o755)
}

func init() {
	Register(BoundedRuntimeCommand, BoundedRuntimeCommand+" RUNTIME ARGS... (an OCI runtime that drops capabilities this host cannot grant)",
		func(_ context.Context, args []string, _ io.Writer) error {
			if len(args) < 1 {
				return errors.New("missing the runtime to run")
			}
			if err := boundBundle(args[1:]); err != nil {
				return err
			}
			return syscall.Exec(args[0], args, os.Environ())
		})
}

// boundBundle rewrites the spec a create, run or exec call reads: a
// privileged container (or docker exec --privileged) asks for every
// capability the kernel knows, and runc fails ("unable to apply caps:
// operation not permitted") on a host whose bounding set lacks one
// (CAP_SYS_RESOURCE on some VMs).
func boundBundle(runtimeArgs []string) error {
	path, inProcess, ok := specOf(runtimeArgs)
	if !ok {
		return nil
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	bounding, err := capBounding(string(status))
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, changed, err := BoundCapabilities(data, bounding, inProcess)
	if err != nil {
		return err
	}
	if inProcess && bounding&(1<<capSysResource) == 0 {
		own, err := os.ReadFile("/proc/self/oom_score_adj")
		if err != nil {
			return err
		}
		floor, err := strconv.Atoi(strings.TrimSpace(string(own)))
		if err != nil {
			return err
		}
		var raised bool
		if out, raised, err = RaiseOOMScoreAdj(out, floor); err != nil {
			return err
		}
		changed = changed || raised
	}
	if !changed {
		return nil
	}
	return os.WriteFile(path, out, 0o644)
}

// capSysResource is CAP_SYS_RESOURCE's number: without it no process may
// lower an oom_score_adj below its own.
const capSysResource = 24

// RaiseOOMScoreAdj raises a config.json's process.oomScoreAdj to floor: a
// lower value needs CAP_SYS_RESOURCE, and runc fails the create ("can't
// get final child's PID from pipe: EOF") where the host lacks it (kubelet's
// dockershim asks -998 for every sandbox).
func RaiseOOMScoreAdj(config []byte, floor int) ([]byte, bool, error) {
	var spec map[string]any
	if err := json.Unmarshal(config, &spec); err != nil {
		return nil, false, fmt.Errorf("reading the OCI config: %w", err)
	}
	process, _ := spec["process"].(map[string]any)
	adj, ok := process["oomScoreAdj"].(float64)
	if !ok || int(adj) >= floor {
		return config, false, nil
	}
	process["oomScoreAdj"] = floor
	out, err := json.Marshal(spec)
	return out, true, err
}

// specOf finds the file a runtime call takes its capabilities from: the
// bundle's config.json for create and run (under "process"), the
// --process file for exec (at its top level).
func specOf(args []string) (path string, inProcess, ok bool) {
	sub := -1
	for i, a := range args {
		if a == "create" || a == "run" || a == "exec" {
			sub = i
			break
		}
	}
	if sub < 0 {
		return "", false, false
	}
	flag, short := "--bundle", "-b"
	if args[sub] == "exec" {
		flag, short = "--process", "-p"
	}
	for i := sub + 1; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == flag || a == short) && i+1 < len(args):
			return specFile(args[sub], args[i+1])
		case strings.HasPrefix(a, flag+"="):
			return specFile(args[sub], strings.TrimPrefix(a, flag+"="))
		}
	}
	if args[sub] == "exec" {
		return "", false, false // the process comes from the command line
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false, false
	}
	return specFile(args[sub], dir)
}

func specFile(sub, value string) (string, bool, bool) {
	if sub == "exec" {
		return value, false, true
	}
	return filepath.Join(value, "config.json"), true, true
}

// capBounding reads CapBnd from /proc/PID/status text.
func capBounding(status string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapBnd in /proc/self/status")
}

// BoundCapabilities removes from every capability set of an OCI spec
// the capabilities whose bit is clear in bounding (names it does not know
// are kept: runc judges those). It reports whether anything was removed.
// inProcess says the capabilities are under "process" (a config.json)
// rather than at the top (an exec --process file).
func BoundCapabilities(config []byte, bounding uint64, inProcess bool) ([]byte, bool, error) {
	var spec map[string]any
	if err := json.Unmarshal(config, &spec); err != nil {
		return nil, false, fmt.Errorf("reading the OCI config: %w", err)
	}
	process := spec
	if inProcess {
		process, _ = spec["process"].(map[string]any)
	}
	caps, _ := process["capabilities"].(map[string]any)
	if caps == nil {
		return config, false, nil
	}
	number := map[string]int{}
	for i, n := range evidence.CapabilityNames {
		number[n] = i
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := []any{}
		for _, c := range list {
			name, _ := c.(string)
			if n, known := number[name]; known && bounding&(1<<uint(n)) == 0 {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	if !changed {
		return config, false, nil
	}
	out, err := json.Marshal(spec)
	return out, true, err
}
