package pipewrite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/node/remote"
	"github.com/relapse-dev/relapse/harness/report"
)

// InitSelector picks `runc init` processes in a form that can travel to a
// node's agent, so the pipe-deadlock detector can run next to them.
type InitSelector struct {
	// Binary, when set, keeps only the inits of that runc binary
	// (relapse copies runc into each run's directory).
	Binary string `json:"binary,omitempty"`
	// Under, when set, keeps only processes below a daemon whose command
	// line names that directory (an engine relapse started).
	Under string `json:"under,omitempty"`
}

// Select applies the selector to a process list.
func (s InitSelector) Select(procs []evidence.Process) []evidence.Process {
	if s.Under != "" {
		procs = evidence.ProcessesUnder(procs, s.Under)
	}
	return evidence.Matching(func(p evidence.Process) bool {
		return evidence.IsRuncInit(p) && (s.Binary == "" || len(p.Cmdline) > 0 && p.Cmdline[0] == s.Binary)
	})(procs)
}

// comm says whether a process's comm can be a selected init's, so a scan
// can skip reading the rest of every other process: a runc init's comm is
// "runc:[N:NAME]" once nsexec renamed it and its binary's name (at most
// 15 bytes) before. nil when the selector needs every process (Under
// follows daemons' command lines).
func (s InitSelector) comm() func(string) bool {
	if s.Under != "" {
		return nil
	}
	exe := "runc"
	if s.Binary != "" {
		exe = filepath.Base(s.Binary)
	}
	exe = exe[:min(len(exe), 15)]
	return func(comm string) bool { return strings.HasPrefix(comm, "runc:[") || comm == exe }
}

// agentWatch is the agent subcommand that runs the detector on a node.
const agentWatch = "watch-pipe-deadlock"

func init() {
	agent.Register(agentWatch, agentWatch+" SELECTOR-JSON DEADLINE", func(ctx context.Context, args []string, out io.Writer) error {
		if len(args) != 2 {
			return fmt.Errorf("want a selector (JSON) and a deadline, got %q", args)
		}
		var sel InitSelector
		if err := json.Unmarshal([]byte(args[0]), &sel); err != nil {
			return fmt.Errorf("selector: %w", err)
		}
		// The deadline bounds the watch even if relapse's ssh session
		// vanishes without the agent noticing.
		within, err := time.ParseDuration(args[1])
		if err != nil {
			return fmt.Errorf("deadline: %w", err)
		}
		ctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		d := &Detector{Node: local.New(), Selector: &sel}
		f, err := d.Watch(ctx)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(f)
	})
}

// onAgent reports whether this detector should run on the node's agent:
// a remote node (a VM, a Vagrant box), where each sample from here would
// be an ssh round trip, and a selector that can travel there.
func (d *Detector) onAgent() bool {
	_, remoteNode := d.Node.(*remote.Node)
	return remoteNode && d.Selector != nil
}

// watchOnAgent runs the same detector inside the node and waits for its
// finding: it samples at its own pace there, and one line comes back.
func (d *Detector) watchOnAgent(ctx context.Context) (report.Finding, error) {
	sel, err := json.Marshal(d.Selector)
	if err != nil {
		return report.Finding{}, err
	}
	within := time.Hour
	if dl, ok := ctx.Deadline(); ok {
		within = time.Until(dl) + time.Second
	}
	found := make(chan report.Finding, 1)
	s, err := agent.StartStream(ctx, d.Node, func(line []byte) {
		var f report.Finding
		if json.Unmarshal(line, &f) == nil && f.Kind != "" {
			select {
			case found <- f:
			default:
			}
		}
	}, agentWatch, string(sel), within.Round(time.Second).String())
	if err != nil {
		return report.Finding{}, fmt.Errorf("%s: starting the watch on %s: %w", d.Name(), d.Node.Name(), err)
	}
	defer s.Stop()
	select {
	case f := <-found:
		f.Reasons = append(f.Reasons, "sampled inside "+d.Node.Name()+" by relapse-agent (times are the node's clock)")
		return f, nil
	case <-ctx.Done():
		return report.Finding{}, ctx.Err()
	case <-s.Done():
		select {
		case f := <-found:
			return f, nil
		default:
		}
		if ctx.Err() != nil {
			return report.Finding{}, ctx.Err()
		}
		return report.Finding{}, fmt.Errorf("%s: the watch on %s ended without a finding: %v", d.Name(), d.Node.Name(), s.Err())
	}
}
