package containerdmetrics

import (
	"strings"
	"testing"
)

// A trimmed dump in the shape containerd 1.6.2 printed when it deadlocked here.
const deadlockedDump = `goroutine 1 [select]:
main.main()

goroutine 812 [sync.Mutex.Lock, 2 minutes]:
sync.runtime_SemacquireMutex(0xc0001, 0x0, 0x1)
sync.(*Mutex).lockSlow(0xc000)
sync.(*Mutex).Lock(...)
github.com/docker/go-metrics.(*Namespace).WithConstLabels(0xc000, 0x0)
github.com/containerd/containerd/metrics/cgroups/v1.(*Collector).Add(0xc000, {0x0, 0x0}, 0x0)
github.com/containerd/containerd/metrics/cgroups.(*cgroupsMonitor).Monitor(0xc000, {0x0, 0x0}, 0x0)
github.com/containerd/containerd/services/tasks.(*local).Create(0xc000, {0x0, 0x0}, 0xc000, {0x0, 0x0, 0x0})

goroutine 900 [sync.RWMutex.RLock, 2 minutes]:
sync.runtime_SemacquireRWMutexR(0xc0002, 0x0, 0x0)
sync.(*RWMutex).RLock(...)
github.com/containerd/containerd/metrics/cgroups/v1.(*Collector).Collect(0xc000, 0xc000)
github.com/docker/go-metrics.(*Namespace).Collect(0xc000, 0xc000)
github.com/prometheus/client_golang/prometheus.(*Registry).Gather.func1()`

func TestLockStacksFindsBothSidesOfTheInversion(t *testing.T) {
	add, collect := LockStacks(deadlockedDump)
	if !strings.Contains(add, "goroutine 812") || !strings.Contains(collect, "goroutine 900") {
		t.Fatalf("add = %q\ncollect = %q", add, collect)
	}
}

func TestLockStacksIgnoresHealthyDumps(t *testing.T) {
	healthy := strings.ReplaceAll(deadlockedDump, "sync.Mutex.Lock", "running")
	healthy = strings.ReplaceAll(healthy, "sync.(*Mutex).Lock(...)", "")
	healthy = strings.ReplaceAll(healthy, "sync.runtime_SemacquireMutex(0xc0001, 0x0, 0x1)\nsync.(*Mutex).lockSlow(0xc000)\n", "")
	if add, _ := LockStacks(healthy); add != "" {
		t.Fatalf("a running Add was taken for a blocked one: %q", add)
	}
	if add, collect := LockStacks("goroutine 1 [running]:\nmain.main()"); add != "" || collect != "" {
		t.Fatal("found lock stacks in a dump without them")
	}
}
