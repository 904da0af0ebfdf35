package pipewrite

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/report"
)

const (
	initPID   = 4242
	pipeInode = 11045
)

var t0 = time.Date(2024, 5, 14, 9, 30, 0, 0, time.UTC)

// blockedSnapshot is runc init (rc93) stuck in write(2) of its 13080-byte
// seccomp filter into a full 8192-byte pipe whose read end it holds itself.
func blockedSnapshot() evidence.ProcessSnapshot {
	return evidence.ProcessSnapshot{
		Process: evidence.Process{PID: initPID, PPID: 4230, Comm: "runc:[2:INIT]",
			Cmdline: []string{"runc", "init"}, State: "S", Wchan: "anon_pipe_write", Started: t0},
		Taken:       t0.Add(2 * time.Second),
		NoNewPrivs:  true,
		CapEff:      "00000000a80425fb",
		CapEffNames: []string{"CAP_CHOWN", "CAP_KILL"},
		Syscall: evidence.Syscall{Number: 1, Name: "write", Args: []uint64{6, 0xf0d20b0, 13080},
			Raw: "1 0x6 0xf0d20b0 0x3318 0x0 0x0 0x0 0x7ffd8c5e1a28 0x4a1b2e"},
		FDs: []evidence.FD{
			{Num: 0, Target: "/dev/null", Access: "r"},
			{Num: 3, Target: "socket:[11017]", Access: "rw"},
			{Num: 5, Target: "pipe:[11045]", Access: "r", PipeInode: pipeInode, PipeSize: 8192, PipeQueued: 8192},
			{Num: 6, Target: "pipe:[11045]", Access: "w", PipeInode: pipeInode, PipeSize: 8192, PipeQueued: 8192},
		},
		RChar: 1000, WChar: 2000,
		Tasks: []evidence.Task{{TID: initPID, State: "S", Wchan: "anon_pipe_write"}, {TID: initPID + 1, State: "S", Wchan: "futex_wait_queue"}},
	}
}

func ownHolders() []evidence.PipeHolder {
	return []evidence.PipeHolder{
		{PID: initPID, Comm: "runc:[2:INIT]", FD: 5, Access: "r"},
		{PID: initPID, Comm: "runc:[2:INIT]", FD: 6, Access: "w"},
	}
}

// setPipe changes fd 5 and 6 of the snapshot together.
func setPipe(s *evidence.ProcessSnapshot, f func(fd *evidence.FD)) {
	for i := range s.FDs {
		if s.FDs[i].PipeInode == pipeInode {
			f(&s.FDs[i])
		}
	}
}

func TestClassifyBlockedWhenWriterIsOnlyReaderOfFullSmallPipe(t *testing.T) {
	c := Classify(blockedSnapshot(), ownHolders())
	if !c.Blocked {
		t.Fatalf("Blocked = false, Failed = %q; want blocked", c.Failed)
	}
	if c.Failed != "" {
		t.Errorf("Failed = %q, want empty", c.Failed)
	}
	if c.FD != 6 || c.Count != 13080 {
		t.Errorf("FD, Count = %d, %d; want 6, 13080", c.FD, c.Count)
	}
	if c.Pipe.Num != 6 || c.Pipe.PipeInode != pipeInode {
		t.Errorf("Pipe = %+v, want fd 6 on pipe 11045", c.Pipe)
	}
	wantReaders := []evidence.PipeHolder{{PID: initPID, Comm: "runc:[2:INIT]", FD: 5, Access: "r"}}
	if !reflect.DeepEqual(c.Readers, wantReaders) {
		t.Errorf("Readers = %+v, want %+v", c.Readers, wantReaders)
	}
	wantReasons := []string{
		"in write(2) of 13080 bytes to fd 6 (/proc/4242/syscall)",
		"fd 6 is pipe:[11045], capacity 8192 bytes (F_GETPIPE_SZ)",
		"the write is 4888 bytes larger than the pipe",
		"the pipe is full: 8192 bytes queued unread (FIONREAD)",
		"the only read end is the writer's own fd 5: nobody else can drain the pipe",
		"kernel wait channel anon_pipe_write",
	}
	if !reflect.DeepEqual(c.Reasons, wantReasons) {
		t.Errorf("Reasons =\n%q\nwant\n%q", c.Reasons, wantReasons)
	}
	sum := c.Summary()
	for _, want := range []string{"13080", "8192", "pipe:[11045]"} {
		if !strings.Contains(sum, want) {
			t.Errorf("Summary() = %q, missing %q", sum, want)
		}
	}
	if want := "blocked writing 13080 bytes into an 8192-byte pipe (pipe:[11045]) whose only read end it holds itself"; sum != want {
		t.Errorf("Summary() = %q, want %q", sum, want)
	}
}

func TestClassifyBlockedVariants(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(s *evidence.ProcessSnapshot)
		holders     []evidence.PipeHolder
		wantReaders []int
		wantWchan   bool
	}{
		{
			name:        "uninterruptible sleep D counts as sleeping",
			mutate:      func(s *evidence.ProcessSnapshot) { s.State = "D" },
			holders:     ownHolders(),
			wantReaders: []int{5},
			wantWchan:   true,
		},
		{
			name:        "own rw descriptor counts as the reader",
			holders:     []evidence.PipeHolder{{PID: initPID, FD: 5, Access: "rw"}, {PID: initPID, FD: 6, Access: "w"}},
			wantReaders: []int{5},
			wantWchan:   true,
		},
		{
			name:        "two own read ends are both listed",
			holders:     []evidence.PipeHolder{{PID: initPID, FD: 5, Access: "r"}, {PID: initPID, FD: 9, Access: "r"}, {PID: initPID, FD: 6, Access: "w"}},
			wantReaders: []int{5, 9},
			wantWchan:   true,
		},
		{
			name:        "wait channel without pipe adds no reason",
			mutate:      func(s *evidence.ProcessSnapshot) { s.Wchan = "do_wait" },
			holders:     ownHolders(),
			wantReaders: []int{5},
			wantWchan:   false,
		},
		{
			name:        "queued above capacity is full",
			mutate:      func(s *evidence.ProcessSnapshot) { setPipe(s, func(fd *evidence.FD) { fd.PipeQueued = 9000 }) },
			holders:     ownHolders(),
			wantReaders: []int{5},
			wantWchan:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := blockedSnapshot()
			if tt.mutate != nil {
				tt.mutate(&s)
			}
			c := Classify(s, tt.holders)
			if !c.Blocked || c.Failed != "" {
				t.Fatalf("Blocked, Failed = %v, %q; want true, \"\"", c.Blocked, c.Failed)
			}
			var fds []int
			for _, r := range c.Readers {
				fds = append(fds, r.FD)
			}
			if !reflect.DeepEqual(fds, tt.wantReaders) {
				t.Errorf("reader fds = %v, want %v", fds, tt.wantReaders)
			}
			last := c.Reasons[len(c.Reasons)-1]
			if got := strings.HasPrefix(last, "kernel wait channel"); got != tt.wantWchan {
				t.Errorf("last reason %q: wait channel reason present = %v, want %v", last, got, tt.wantWchan)
			}
		})
	}
}

func TestClassifyFailedChecks(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(s *evidence.ProcessSnapshot)
		holders     []evidence.PipeHolder
		wantFailed  string
		wantReasons int
	}{
		{
			name:       "running state R",
			mutate:     func(s *evidence.ProcessSnapshot) { s.State = "R" },
			holders:    ownHolders(),
			wantFailed: "state R is not sleeping",
		},
		{
			name:       "zombie state Z",
			mutate:     func(s *evidence.ProcessSnapshot) { s.State = "Z" },
			holders:    ownHolders(),
			wantFailed: "state Z is not sleeping",
		},
		{
			name: "in futex, not write",
			mutate: func(s *evidence.ProcessSnapshot) {
				s.Syscall = evidence.Syscall{Number: 202, Name: "futex", Args: []uint64{0xc000080148, 0x80, 0, 0, 0, 0},
					Raw: "202 0xc000080148 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x46a"}
			},
			holders:    ownHolders(),
			wantFailed: `not in write(2) but in "202 0xc000080148 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x46a"`,
		},
		{
			name:       "not in any syscall",
			mutate:     func(s *evidence.ProcessSnapshot) { s.Syscall = evidence.Syscall{Number: -1, Raw: "running"} },
			holders:    ownHolders(),
			wantFailed: `not in write(2) but in "running"`,
		},
		{
			name: "write with too few arguments",
			mutate: func(s *evidence.ProcessSnapshot) {
				s.Syscall = evidence.Syscall{Number: 1, Args: []uint64{6, 0xf0d20b0}, Raw: "1 0x6 0xf0d20b0"}
			},
			holders:    ownHolders(),
			wantFailed: `not in write(2) but in "1 0x6 0xf0d20b0"`,
		},
		{
			name: "fd is a socket, not a pipe",
			mutate: func(s *evidence.ProcessSnapshot) {
				s.Syscall.Args[0] = 3
			},
			holders:     ownHolders(),
			wantFailed:  "fd 3 is not a pipe",
			wantReasons: 1,
		},
		{
			name: "fd is not open",
			mutate: func(s *evidence.ProcessSnapshot) {
				s.Syscall.Args[0] = 42
			},
			holders:     ownHolders(),
			wantFailed:  "fd 42 is not a pipe",
			wantReasons: 1,
		},
		{
			name:        "pipe size unreadable",
			mutate:      func(s *evidence.ProcessSnapshot) { setPipe(s, func(fd *evidence.FD) { fd.PipeSize = 0 }) },
			holders:     ownHolders(),
			wantFailed:  "pipe size unreadable",
			wantReasons: 1,
		},
		{
			name:        "write of 4096 bytes fits",
			mutate:      func(s *evidence.ProcessSnapshot) { s.Syscall.Args[2] = 4096 },
			holders:     ownHolders(),
			wantFailed:  "the write (4096 bytes) fits the pipe (8192 bytes)",
			wantReasons: 2,
		},
		{
			name:        "write of exactly the pipe size fits",
			mutate:      func(s *evidence.ProcessSnapshot) { s.Syscall.Args[2] = 8192 },
			holders:     ownHolders(),
			wantFailed:  "the write (8192 bytes) fits the pipe (8192 bytes)",
			wantReasons: 2,
		},
		{
			name:        "filter fits a 64 KiB pipe",
			mutate:      func(s *evidence.ProcessSnapshot) { setPipe(s, func(fd *evidence.FD) { fd.PipeSize = 65536 }) },
			holders:     ownHolders(),
			wantFailed:  "the write (13080 bytes) fits the pipe (65536 bytes)",
			wantReasons: 2,
		},
		{
			name:        "pipe not full",
			mutate:      func(s *evidence.ProcessSnapshot) { setPipe(s, func(fd *evidence.FD) { fd.PipeQueued = 100 }) },
			holders:     ownHolders(),
			wantFailed:  "the pipe is not full (100 of 8192 bytes queued)",
			wantReasons: 3,
		},
		{
			name:        "no reader: holders are only writers",
			holders:     []evidence.PipeHolder{{PID: initPID, Comm: "runc:[2:INIT]", FD: 6, Access: "w"}},
			wantFailed:  "no process holds the read end (the write would get EPIPE, not block)",
			wantReasons: 4,
		},
		{
			name:        "no holders at all",
			holders:     nil,
			wantFailed:  "no process holds the read end (the write would get EPIPE, not block)",
			wantReasons: 4,
		},
		{
			name: "another process holds the read end",
			holders: append(ownHolders(),
				evidence.PipeHolder{PID: 4230, Comm: "runc", FD: 7, Access: "r"}),
			wantFailed:  "pid 4230 (runc) also holds the read end as fd 7 and may drain it",
			wantReasons: 4,
		},
		{
			name: "another process holds the pipe read-write",
			holders: []evidence.PipeHolder{{PID: 4230, Comm: "runc", FD: 7, Access: "rw"},
				{PID: initPID, Comm: "runc:[2:INIT]", FD: 6, Access: "w"}},
			wantFailed:  "pid 4230 (runc) also holds the read end as fd 7 and may drain it",
			wantReasons: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := blockedSnapshot()
			if tt.mutate != nil {
				tt.mutate(&s)
			}
			c := Classify(s, tt.holders)
			if c.Blocked {
				t.Fatalf("Blocked = true, want false (reasons %q)", c.Reasons)
			}
			if c.Failed != tt.wantFailed {
				t.Errorf("Failed = %q, want %q", c.Failed, tt.wantFailed)
			}
			if len(c.Reasons) != tt.wantReasons {
				t.Errorf("len(Reasons) = %d, want %d: %q", len(c.Reasons), tt.wantReasons, c.Reasons)
			}
		})
	}
}

func TestClassifyDoesNotMutateSnapshot(t *testing.T) {
	s := blockedSnapshot()
	h := ownHolders()
	Classify(s, h)
	if !reflect.DeepEqual(s, blockedSnapshot()) {
		t.Error("Classify changed the snapshot")
	}
	if !reflect.DeepEqual(h, ownHolders()) {
		t.Error("Classify changed the holders")
	}
}

func TestProgressedDetectsIOOrSyscallChange(t *testing.T) {
	base := blockedSnapshot()
	tests := []struct {
		name   string
		mutate func(s *evidence.ProcessSnapshot)
		want   bool
	}{
		{"identical", func(*evidence.ProcessSnapshot) {}, false},
		{"only Taken and State differ", func(s *evidence.ProcessSnapshot) {
			s.Taken = s.Taken.Add(time.Second)
			s.State = "D"
		}, false},
		{"rchar moved", func(s *evidence.ProcessSnapshot) { s.RChar++ }, true},
		{"wchar moved", func(s *evidence.ProcessSnapshot) { s.WChar += 4096 }, true},
		{"syscall changed", func(s *evidence.ProcessSnapshot) {
			s.Syscall.Raw = "1 0x6 0xf0d30b0 0x2318 0x0 0x0 0x0 0x7ffd8c5e1a28 0x4a1b2e"
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := blockedSnapshot()
			tt.mutate(&b)
			if got := progressed(base, b); got != tt.want {
				t.Errorf("progressed = %v, want %v", got, tt.want)
			}
			if got := progressed(b, base); got != tt.want {
				t.Errorf("progressed (reversed) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchingKeepsOnlyMatchingProcessesInOrder(t *testing.T) {
	procs := []evidence.Process{
		{PID: 1, Comm: "systemd"},
		{PID: 10, Comm: "runc:[2:INIT]"},
		{PID: 11, Comm: "bash"},
		{PID: 12, Comm: "runc:[2:INIT]"},
	}
	tests := []struct {
		name  string
		match func(evidence.Process) bool
		want  []int
	}{
		{"by comm", func(p evidence.Process) bool { return p.Comm == "runc:[2:INIT]" }, []int{10, 12}},
		{"all", func(evidence.Process) bool { return true }, []int{1, 10, 11, 12}},
		{"none", func(evidence.Process) bool { return false }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, p := range evidence.Matching(tt.match)(procs) {
				got = append(got, p.PID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PIDs = %v, want %v", got, tt.want)
			}
		})
	}
	if got := evidence.Matching(func(evidence.Process) bool { return true })(nil); got != nil {
		t.Errorf("evidence.Matching(nil list) = %v, want nil", got)
	}
}

func TestFindingLatency(t *testing.T) {
	tests := []struct {
		name string
		f    report.Finding
		want time.Duration
	}{
		{"zero onset", report.Finding{At: t0.Add(3 * time.Second)}, 0},
		{"zero onset and zero at", report.Finding{}, 0},
		{"onset 1.5s before decision", report.Finding{At: t0.Add(4 * time.Second), OnsetAt: t0.Add(2500 * time.Millisecond)}, 1500 * time.Millisecond},
		{"same instant", report.Finding{At: t0, OnsetAt: t0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Latency(); got != tt.want {
				t.Errorf("Latency() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPipeDeadlockDefaults(t *testing.T) {
	d := &Detector{}
	if d.interval(false) != 10*time.Millisecond || d.interval(true) != 2*time.Millisecond || d.window() != 30*time.Millisecond || d.minSamples() != 3 {
		t.Errorf("defaults = %v, %v, %v, %d; want 10ms, 2ms, 30ms, 3", d.interval(false), d.interval(true), d.window(), d.minSamples())
	}
	d = &Detector{Interval: time.Second, FastInterval: 3 * time.Millisecond, MinStall: 2 * time.Second}
	if d.interval(false) != time.Second || d.interval(true) != 3*time.Millisecond || d.window() != 2*time.Second {
		t.Errorf("set = %v, %v, %v; want 1s, 3ms, 2s", d.interval(false), d.interval(true), d.window())
	}
	// On a loaded machine the detector's own rounds are slow: the window
	// grows to five times their 99th percentile.
	for i := 0; i < 20; i++ {
		d.rounds.Add(time.Second)
	}
	if d.window() != 5*time.Second {
		t.Errorf("window after slow rounds = %v, want 5s", d.window())
	}
	if d.Name() != "pipe-deadlock" {
		t.Errorf("Name() = %q", d.Name())
	}
}

// fakeNode serves scripted snapshots; methods the detector does not use
// panic through the nil embedded interface.
type fakeNode struct {
	node.Node
	mu       sync.Mutex
	calls    int
	snapshot func(n int) evidence.ProcessSnapshot
	holders  []evidence.PipeHolder
	inodes   []uint64
}

func (f *fakeNode) Processes(context.Context) ([]evidence.Process, error) {
	return []evidence.Process{{PID: 1, Comm: "systemd"}, {PID: initPID, Comm: "runc:[2:INIT]"}}, nil
}

func (f *fakeNode) InspectProcess(_ context.Context, pid int) (evidence.ProcessSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pid != initPID {
		return evidence.ProcessSnapshot{}, errors.New("unexpected pid")
	}
	f.calls++
	return f.snapshot(f.calls), nil
}

func (f *fakeNode) PipeHolders(_ context.Context, inode uint64) ([]evidence.PipeHolder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inodes = append(f.inodes, inode)
	return f.holders, nil
}

// ReadFile is not scripted: the detector falls back to the deep snapshot.
func (f *fakeNode) ReadFile(context.Context, string) ([]byte, error) {
	return nil, errors.New("not scripted")
}

func TestInWriteReadsOnlyTheSyscallNumber(t *testing.T) {
	for raw, want := range map[string]bool{
		"1 0x6 0xf0d20b0 0x3318 0x0 0x0 0x0 0x7ffd 0x4a1c2b\n":  true,
		"0 0x3 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x4a1c2b\n":           false,
		"202 0xc000080148 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x46e0a3": false,
		"running": false,
		"":        false,
	} {
		if got := inWrite([]byte(raw)); got != want {
			t.Errorf("inWrite(%q) = %v, want %v", raw, got, want)
		}
	}
}

func selectInit(p evidence.Process) bool { return p.Comm == "runc:[2:INIT]" }

func TestWatchReportsStalledBlockedWrite(t *testing.T) {
	fn := &fakeNode{holders: ownHolders(), snapshot: func(n int) evidence.ProcessSnapshot {
		s := blockedSnapshot()
		s.Taken = t0.Add(time.Duration(n) * 100 * time.Millisecond)
		return s
	}}
	d := &Detector{Node: fn, Select: evidence.Matching(selectInit), Interval: time.Millisecond, MinStall: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := d.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	// Samples at 100, 200, 300, 400 ms: the stall reaches 300ms at the 4th.
	if f.Samples != 4 {
		t.Errorf("Samples = %d, want 4", f.Samples)
	}
	if f.Kind != Kind || f.Detector != "pipe-deadlock" {
		t.Errorf("Kind, Detector = %q, %q", f.Kind, f.Detector)
	}
	if !f.At.Equal(t0.Add(400*time.Millisecond)) || !f.OnsetAt.Equal(t0) {
		t.Errorf("At, OnsetAt = %v, %v; want t0+400ms, t0", f.At, f.OnsetAt)
	}
	if f.Latency() != 400*time.Millisecond {
		t.Errorf("Latency = %v, want 400ms", f.Latency())
	}
	wantSummary := "pid 4242 (runc:[2:INIT]) is blocked writing 13080 bytes into an 8192-byte pipe (pipe:[11045]) whose only read end it holds itself"
	if f.Summary != wantSummary {
		t.Errorf("Summary = %q, want %q", f.Summary, wantSummary)
	}
	joined := strings.Join(f.Reasons, "\n")
	for _, want := range []string{
		"no progress over 4 samples in 300ms",
		"rchar/wchar unchanged (1000/2000)",
		"NoNewPrivs is set",
		"neither CAP_SYS_ADMIN nor CAP_SYS_RESOURCE is effective",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("Reasons lack %q:\n%s", want, joined)
		}
	}
	if len(f.Processes) != 1 || f.Processes[0].PID != initPID {
		t.Errorf("Processes = %+v, want the init snapshot", f.Processes)
	}
	if len(fn.inodes) == 0 || fn.inodes[0] != pipeInode {
		t.Errorf("PipeHolders asked for %v, want inode %d", fn.inodes, pipeInode)
	}
}

// The onset is bounded by the last sample that saw the process not yet
// blocked, not by its start, and the decision needs MinSamples samples
// even when the window has passed.
func TestWatchBoundsOnsetByLastClearSample(t *testing.T) {
	fn := &fakeNode{holders: ownHolders(), snapshot: func(n int) evidence.ProcessSnapshot {
		s := blockedSnapshot()
		s.Taken = t0.Add(time.Duration(n) * 100 * time.Millisecond)
		if n <= 2 {
			s.Syscall = evidence.Syscall{Number: 0, Raw: "0 0x3 0x0 0x0"} // still reading its config
		}
		return s
	}}
	d := &Detector{Node: fn, Select: evidence.Matching(selectInit), Interval: time.Millisecond, MinStall: 50 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := d.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	// Clear at 100 and 200 ms, blocked from 300 ms; three samples at 500 ms.
	if !f.OnsetAt.Equal(t0.Add(200*time.Millisecond)) || !f.At.Equal(t0.Add(500*time.Millisecond)) || f.Samples != 3 {
		t.Errorf("OnsetAt, At, Samples = %v, %v, %d; want t0+200ms, t0+500ms, 3", f.OnsetAt, f.At, f.Samples)
	}
	if !strings.Contains(strings.Join(f.Reasons, "\n"), "onset between") {
		t.Errorf("Reasons do not bound the onset: %v", f.Reasons)
	}
}

// A blocked write in a process with another thread running is not yet
// the bug: that thread may be about to read (runc rc94 reads the pipe in a
// goroutine while libseccomp writes).
func TestWatchIgnoresWriteWhileAnotherThreadRuns(t *testing.T) {
	fn := &fakeNode{holders: ownHolders(), snapshot: func(n int) evidence.ProcessSnapshot {
		s := blockedSnapshot()
		s.Taken = t0.Add(time.Duration(n) * 100 * time.Millisecond)
		s.Tasks[1].State = "R"
		return s
	}}
	d := &Detector{Node: fn, Select: evidence.Matching(selectInit), Interval: time.Millisecond, MinStall: 150 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if f, err := d.Watch(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Watch = %+v, %v; want no finding", f, err)
	}
}

func TestWatchIgnoresWriteThatProgresses(t *testing.T) {
	fn := &fakeNode{holders: ownHolders(), snapshot: func(n int) evidence.ProcessSnapshot {
		s := blockedSnapshot()
		s.Taken = t0.Add(time.Duration(n) * 100 * time.Millisecond)
		s.WChar = uint64(n) // the write moves a little each sample
		return s
	}}
	d := &Detector{Node: fn, Select: evidence.Matching(selectInit), Interval: time.Millisecond, MinStall: 150 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	f, err := d.Watch(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Watch = %+v, %v; want context.DeadlineExceeded", f, err)
	}
	if fn.calls < 3 {
		t.Errorf("sampled %d times, want several", fn.calls)
	}
}
