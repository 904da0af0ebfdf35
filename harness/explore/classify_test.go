package explore

import (
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/measure"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/scenarios/containerdmetrics"
	_ "github.com/relapse-dev/relapse/harness/scenarios/runcpipehang" // registers containerd-5261, a kit bug
)

// A trimmed goroutine dump of containerd 1.6.2 deadlocked between a task
// Create and a /v1/metrics scrape.
const lockCycleDump = `goroutine 812 [sync.Mutex.Lock, 2 minutes]:
sync.runtime_SemacquireMutex(0xc0001, 0x0, 0x1)
sync.(*Mutex).Lock(...)
github.com/docker/go-metrics.(*Namespace).WithConstLabels(0xc000, 0x0)
github.com/containerd/containerd/metrics/cgroups/v1.(*Collector).Add(0xc000, {0x0, 0x0}, 0x0)
github.com/containerd/containerd/services/tasks.(*local).Create(0xc000, {0x0, 0x0}, 0xc000, {0x0, 0x0, 0x0})

goroutine 900 [sync.RWMutex.RLock, 2 minutes]:
sync.(*RWMutex).RLock(...)
github.com/containerd/containerd/metrics/cgroups/v1.(*Collector).Collect(0xc000, 0xc000)
github.com/prometheus/client_golang/prometheus.(*Registry).Gather.func1()`

// A runc init stuck writing its seccomp filter into a full 2-page pipe
// only it can read (containerd#5261).
func stuckInit() (evidence.ProcessSnapshot, map[uint64][]evidence.PipeHolder) {
	const pid, inode = 4242, 11045
	s := evidence.ProcessSnapshot{
		Process: evidence.Process{PID: pid, Comm: "runc:[2:INIT]", Cmdline: []string{"runc", "init"}, State: "S", Wchan: "anon_pipe_write"},
		Taken:   time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC),
		Syscall: evidence.Syscall{Number: 1, Name: "write", Args: []uint64{6, 0xf0d20b0, 13080}},
		FDs: []evidence.FD{
			{Num: 5, Target: "pipe:[11045]", Access: "r", PipeInode: inode, PipeSize: 8192, PipeQueued: 8192},
			{Num: 6, Target: "pipe:[11045]", Access: "w", PipeInode: inode, PipeSize: 8192, PipeQueued: 8192},
		},
	}
	return s, map[uint64][]evidence.PipeHolder{inode: {
		{PID: pid, Comm: "runc:[2:INIT]", FD: 5, Access: "r"},
		{PID: pid, Comm: "runc:[2:INIT]", FD: 6, Access: "w"}}}
}

func catalog() []scenario.Scenario {
	// The rc93 hang is a kit bug: its Claims come through the kit's scenario.
	pipeHang, err := scenario.Lookup("containerd-5261")
	if err != nil {
		panic(err)
	}
	return []scenario.Scenario{containerdmetrics.Scenario{}, pipeHang}
}

func TestClassifyLockCycleIsContainerd6772(t *testing.T) {
	claims := Classify(scenario.Observed{Invariant: InvCreate, GoroutineDump: lockCycleDump}, catalog())
	if len(claims) != 1 || claims[0].Bug != "containerd#6772" || len(claims[0].Reasons) == 0 {
		t.Fatalf("claims = %+v, want containerd#6772 alone", claims)
	}
}

func TestClassifyStuckPipeWriteIsTheRc93Hang(t *testing.T) {
	snap, holders := stuckInit()
	claims := Classify(scenario.Observed{Invariant: InvCreate, Processes: []evidence.ProcessSnapshot{snap}, PipeHolders: holders}, catalog())
	if len(claims) != 1 || claims[0].Bug != "containerd#5261" {
		t.Fatalf("claims = %+v, want containerd#5261 alone", claims)
	}
}

// A deadline alone, or a stuck init another process can drain, is no
// catalog bug's: the finding is new.
func TestClassifyUnrecognisedEvidenceIsNew(t *testing.T) {
	snap, holders := stuckInit()
	for _, h := range holders {
		holders[11045] = append(h, evidence.PipeHolder{PID: 4230, Comm: "containerd-shim", FD: 9, Access: "r"})
	}
	for name, o := range map[string]scenario.Observed{
		"deadline only":    {Invariant: InvCreate, Detail: "start 3 did not return within 20s"},
		"drainable pipe":   {Invariant: InvCreate, Processes: []evidence.ProcessSnapshot{snap}, PipeHolders: holders},
		"healthy dump":     {Invariant: InvDaemon, GoroutineDump: "goroutine 1 [running]:\nmain.main()"},
		"one side of lock": {Invariant: InvCreate, GoroutineDump: lockCycleDump[:400]},
	} {
		if claims := Classify(o, catalog()); len(claims) != 0 {
			t.Errorf("%s: claimed by %+v", name, claims)
		}
		f := Finding{}
		if f.Named() != "new (no catalog bug claims it)" {
			t.Errorf("an unclaimed finding is named %q", f.Named())
		}
	}
}

func TestBoundFollowsTheRunsOwnLatencies(t *testing.T) {
	b := Bound{Factor: 10, Floor: 20 * time.Second}
	var l = newLatencies(100*time.Millisecond, 7)
	if got := b.Of(l); got != 20*time.Second {
		t.Errorf("with too few samples the bound is %s, want the floor", got)
	}
	l.Add(3 * time.Second)
	if got := b.Of(l); got != 30*time.Second {
		t.Errorf("p99 3s: bound %s, want 30s", got)
	}
}

func newLatencies(d time.Duration, n int) *measure.Latencies {
	l := &measure.Latencies{}
	for range n {
		l.Add(d)
	}
	return l
}
