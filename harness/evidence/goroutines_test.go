package evidence

import (
	"strings"
	"testing"
)

const dumpSample = `goroutine 1 [chan receive, 12 minutes]:
main.main()
	/go/src/main.go:10 +0x1d

goroutine 7 [semacquire, 3 minutes]:
sync.runtime_SemacquireMutex(0xc0001, 0x0, 0x1)
	/usr/local/go/src/runtime/sema.go:71 +0x25
sync.(*Mutex).Lock(...)
	/usr/local/go/src/sync/mutex.go:81
github.com/containerd/containerd/metrics/cgroups/v1.(*Collector).Add(0xc000, {0xc00, 0x5})
	/go/collector.go:120 +0x5a
created by main.serve
	/go/main.go:40 +0x10

goroutine 8 [IO wait]:
internal/poll.runtime_pollWait(0x7f, 0x72)
	/usr/local/go/src/runtime/netpoll.go:302 +0x89

goroutine 9 [IO wait]:
internal/poll.runtime_pollWait(0x7e, 0x72)
	/usr/local/go/src/runtime/netpoll.go:302 +0x89
`

func TestGroupGoroutinesLockWaitersFirst(t *testing.T) {
	groups := GroupGoroutines(dumpSample)
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3: %+v", len(groups), groups)
	}
	if !groups[0].Blocked() || !strings.Contains(strings.Join(groups[0].Frames, " "), "(*Collector).Add(…)") {
		t.Errorf("first group %+v, want the lock waiter", groups[0])
	}
	if groups[1].Count != 2 || groups[1].State != "IO wait" {
		t.Errorf("second group %+v, want the two IO waiters (arguments differ, stacks do not)", groups[1])
	}
	s := SummarizeGoroutines(dumpSample, 2)
	for _, want := range []string{"4 goroutines in 3 distinct stacks", "!    1 × [semacquire]", "… 1 more stacks"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}
