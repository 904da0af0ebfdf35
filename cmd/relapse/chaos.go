//go:build !relapse_lean

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/explore"
	"github.com/relapse-dev/relapse/harness/report"
)

// The explorer drives containerd through its client, which a lean build
// leaves out.
func init() { chaosCmd = chaos }

// chaos is `relapse chaos`: seeded schedules against a pinned stack under
// generic invariants; exit 0 when nothing broke, 1 with a confirmed
// finding, 2 for bad input (nothing changed), 3 when the run itself failed
// or decided nothing.
func chaos(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	var o explore.Options
	fs.StringVar(&o.Containerd, "containerd", "", "containerd version (e.g. 1.6.2, latest)")
	fs.StringVar(&o.Runc, "runc", "", "runc version containerd's shim runs (e.g. 1.1.1, v1.0.0-rc93; default: the one containerd pins in script/setup/runc-version)")
	fs.StringVar(&o.Kubernetes, "kubernetes", "", "Kubernetes version: explore a one-node cluster of it (node Ready, pod start/delete, no netns or IP left)")
	fs.DurationVar(&o.Budget, "budget", 15*time.Minute, "how long to explore before the shrink")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the schedules (a report's seed replays them)")
	fs.IntVar(&o.Trial, "trial", -1, "replay only this trial of the seed (from a report)")
	fs.IntVar(&o.Replays, "replays", 2, "replays (n) of each shrink candidate")
	fs.IntVar(&o.Need, "need", 1, "violating replays (k of n) a shrink candidate needs to still count")
	fs.IntVar(&o.ShrinkRuns, "shrink-runs", 12, "bound on the replays a shrink spends (0: none)")
	fs.StringVar(&o.Draft, "draft", "", "directory for a draft kit declaration of a new (unclaimed) finding")
	fs.StringVar(&o.ReportsDir, "reports", "reports", "directory receiving reports/<run-id>/")
	fs.DurationVar(&o.LockWait, "lock-wait", 0, "how long to wait for the host lock another run holds")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if err := checkLockWait(o.LockWait); err != nil {
		return usageError(err)
	}
	if err := o.Check(); err != nil {
		return usageError(err)
	}
	o.Invocation = "relapse chaos " + strings.Join(args, " ")
	o.Log = os.Stderr
	out, res, err := explore.Run(ctx, o)
	if res == nil {
		// Nothing ran: the versions did not resolve or the plan was refused.
		return usageError(err)
	}
	v := res.Report.Verdict
	fmt.Printf("%s: %s\n", v.Result, v.Reason)
	fmt.Println("report:", res.Paths.HTML)
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "relapse chaos: %v\n", err)
		return exitInconclusive
	case ctx.Err() != nil:
		return exitInterrupted
	case out != nil && out.Finding != nil:
		return exitFailed
	case v.Result == report.NotReproduced:
		return exitVerdict
	}
	return exitInconclusive
}
