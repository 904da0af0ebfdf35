package detect

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/evidence"
)

func parkedInit() evidence.ProcessSnapshot {
	return evidence.ProcessSnapshot{
		Process: evidence.Process{PID: 42, Comm: "runc:[2:INIT]", State: "S", Wchan: "wait_for_partner"},
		Syscall: evidence.Syscall{Number: 257, Name: "openat", Raw: "257 0xffffff9c 0xc000 0x1"},
		FDs:     []evidence.FD{{Num: 5, Target: "/run/containerd/runc/relapse/t7/exec.fifo"}},
	}
}

func TestClassifyFifoParkFindsTheContainer(t *testing.T) {
	c := ClassifyFifoPark(parkedInit())
	if !c.Parked || c.Container != "t7" || len(c.Reasons) != 2 {
		t.Fatalf("got %+v", c)
	}
}

func TestClassifyFifoParkRejects(t *testing.T) {
	running := parkedInit()
	running.State = "R"
	noFifo := parkedInit()
	noFifo.FDs = nil
	elsewhere := parkedInit()
	elsewhere.Syscall = evidence.Syscall{Number: 202, Name: "futex", Raw: "202"}
	elsewhere.Wchan = "futex_do_wait"
	for name, tc := range map[string]struct {
		s    evidence.ProcessSnapshot
		want string
	}{
		"running":          {running, "state R is not sleeping"},
		"no exec.fifo":     {noFifo, "holds no exec.fifo"},
		"not opening fifo": {elsewhere, `not opening the fifo (syscall "202", wchan futex_do_wait)`},
	} {
		if c := ClassifyFifoPark(tc.s); c.Parked || c.Failed != tc.want {
			t.Errorf("%s: got %+v, want failed %q", name, c, tc.want)
		}
	}
}

func TestRuncStartFor(t *testing.T) {
	procs := []evidence.Process{
		{PID: 1, Cmdline: []string{"/x/runc", "--root", "/r", "start", "t8"}},
		{PID: 2, Cmdline: []string{"/x/runc", "--root", "/r", "state", "t7"}},
	}
	if got := runcStartFor(procs, "t7"); got != "" {
		t.Fatalf("runc state taken for runc start: %q", got)
	}
	if got := runcStartFor(procs, "t8"); got == "" {
		t.Fatal("runc start t8 not found")
	}
}
