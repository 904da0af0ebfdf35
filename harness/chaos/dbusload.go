package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/systemdbus"
)

// DBusLoad churns transient systemd units through PID 1's D-Bus API on a
// node, the load runc's systemd cgroup driver puts on systemd with many
// containers starting (runc#3904, runc#4853), and the way to push PID 1's
// bus cookie forward quickly: every unit start and stop makes PID 1 send
// a reply plus job and unit signals.
type DBusLoad struct {
	// Rate is units started (and stopped) per second.
	Rate float64
	// Duration bounds the load; it stops earlier with Stop.
	Duration time.Duration
	// Prefix names the units (PREFIX-N.service), so undo can find them.
	Prefix string
}

// LoadRun is a running DBusLoad.
type LoadRun struct {
	stream *agent.Stream
	// undo stops the load and the units it left (the ledger's entry).
	undo run.Undo
	mu   sync.Mutex
	last systemdbus.LoadProgress
}

// Start begins the load on n and adds its undo to the ledger: stop the
// load, then stop and forget any unit it left.
func (l DBusLoad) Start(ctx context.Context, n node.Node, ledger *run.Ledger) (*LoadRun, error) {
	run := &LoadRun{}
	stream, err := agent.StartStream(ctx, n, func(line []byte) {
		var p systemdbus.LoadProgress
		if json.Unmarshal(line, &p) == nil {
			run.mu.Lock()
			run.last = p
			run.mu.Unlock()
		}
	}, "dbus-load", strconv.FormatFloat(l.Rate, 'f', -1, 64), l.Duration.String(), l.Prefix)
	if err != nil {
		return nil, fmt.Errorf("starting D-Bus load on %s: %w", n.Name(), err)
	}
	run.stream = stream
	run.undo = onceUndo(func(ctx context.Context) (string, error) {
		run.Stop()
		pattern := l.Prefix + "-*.service"
		if err := n.Command("systemctl", "stop", pattern).Run(ctx); err != nil {
			return "", err
		}
		_ = n.Command("systemctl", "reset-failed", pattern).Run(ctx)
		left, _ := n.Command("systemctl", "list-units", "--no-legend", "--plain", "--all", pattern).Output(ctx)
		if len(left) > 0 {
			return "", fmt.Errorf("units left after stopping the load: %s", left)
		}
		p := run.Last()
		return fmt.Sprintf("load stopped after %d units started, %d stopped, %d errors; no %s left", p.Started, p.Stopped, p.Errors, pattern), nil
	})
	ledger.Add(report.Change{Kind: "systemd-load", Target: n.Name(),
		Applied: fmt.Sprintf("%g transient units/s (%s-N.service) for up to %s", l.Rate, l.Prefix, l.Duration)}, run.undo)
	return run, nil
}

// Last is the newest progress line.
func (r *LoadRun) Last() systemdbus.LoadProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Undo stops the load and the units it left before the run ends (a
// fault disarmed); the ledger's entry then finds it done.
func (r *LoadRun) Undo(ctx context.Context) (string, error) { return r.undo(ctx) }

// Stop ends the load (idempotent).
func (r *LoadRun) Stop() { r.stream.Stop() }
