package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/run"
)

// Pressure loads the node with stress-ng workers while armed: CPU spinners,
// memory hogs that touch their pages again and again, and I/O workers that
// sync the filesystems. Slow steps stretch the windows races live in.
type Pressure struct {
	CPU int // stress-ng --cpu workers
	VM  int // --vm workers
	// VMBytes is each --vm worker's size ("128M").
	VMBytes string
	IO      int // --io workers (sync(2) in a loop)
}

var vmBytes = regexp.MustCompile(`^[1-9][0-9]{0,5}[KMG]$`)

func (f Pressure) Kind() string { return "pressure" }

func (f Pressure) Params() map[string]string {
	return map[string]string{"cpu": strconv.Itoa(f.CPU), "vm": strconv.Itoa(f.VM), "vm-bytes": f.VMBytes, "io": strconv.Itoa(f.IO)}
}

// argv is the stress-ng command; --temp-path names the fault's directory
// (where the I/O workers keep their files), which is how a repair finds it.
func (f Pressure) argv(dir string) []string {
	argv := []string{"stress-ng", "--temp-path", dir, "--timeout", strconv.Itoa(int(faultBound.Seconds())), "--quiet"}
	if f.CPU > 0 {
		argv = append(argv, "--cpu", strconv.Itoa(f.CPU))
	}
	if f.VM > 0 {
		argv = append(argv, "--vm", strconv.Itoa(f.VM), "--vm-bytes", f.VMBytes)
	}
	if f.IO > 0 {
		argv = append(argv, "--io", strconv.Itoa(f.IO))
	}
	return argv
}

func (f Pressure) Arm(ctx context.Context, r *run.Run, t Target) (Armed, error) {
	dir, err := faultDir(ctx, t, f.Kind())
	if err != nil {
		return nil, err
	}
	if err := t.Node.Command("stress-ng", "--version").Run(ctx); err != nil {
		return nil, fmt.Errorf("arming pressure: stress-ng does not run on %s (install Debian's stress-ng: ci/deps.sh test): %w", t.Node.Name(), err)
	}
	armedAt := time.Now()
	// SIGTERM lets stress-ng stop its workers and remove its files.
	g, err := ownProcs(ctx, r, t.Node, dir, "stress-ng pressure", syscall.SIGTERM, f.argv(dir))
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var disarmedAt time.Time
	return &armed{
		disarm: func(ctx context.Context) error {
			mu.Lock()
			disarmedAt = time.Now()
			mu.Unlock()
			return g.release(ctx)
		},
		saw: func() string {
			mu.Lock()
			end := disarmedAt
			mu.Unlock()
			if end.IsZero() {
				end = time.Now()
			}
			return fmt.Sprintf("stress-ng --cpu %d --vm %d (%s) --io %d for %s", f.CPU, f.VM, f.VMBytes, f.IO, end.Sub(armedAt).Round(time.Second/10))
		},
	}, nil
}

func init() {
	RegisterFault(FaultKind{
		Kind: "pressure",
		Draw: func(rng *rand.Rand) Fault {
			f := Pressure{CPU: rng.IntN(3), VM: rng.IntN(2), VMBytes: pick(rng, "64M", "256M"), IO: rng.IntN(2)}
			if f.CPU+f.VM+f.IO == 0 {
				f.CPU = 1
			}
			return f
		},
		Parse: func(p map[string]string) (Fault, error) {
			r := readParams("pressure", p, "cpu", "vm", "vm-bytes", "io")
			f := Pressure{CPU: r.integer("cpu", 0, 64), VM: r.integer("vm", 0, 16), IO: r.integer("io", 0, 16),
				VMBytes: r.matching("vm-bytes", vmBytes, "a size such as 64M, 512K or 1G")}
			if f.CPU+f.VM+f.IO == 0 && r.err() == nil {
				r.fail("cpu, vm and io are all 0: want at least one worker")
			}
			return f, r.err()
		},
	})
}
