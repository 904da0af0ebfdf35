package evidence

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// statLine is a realistic 52-field /proc/PID/stat line whose comm holds
// spaces and parentheses. Field 22 (starttime) is 4321 ticks.
const statLine = "1234 (runc:[2:INIT] (x)) S 1230 1234 1234 0 -1 4194560 342 0 0 0 1 2 0 0 20 0 7 0 4321 " +
	"720896000 2345 18446744073709551615 4194304 7297613 140727413098240 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 " +
	"9392128 9453568 25853952 140727413104385 140727413104396 140727413104396 140727413108714 0\n"

func TestStatLineHas52Fields(t *testing.T) {
	// Guard for the fixture itself: fields after comm plus pid and comm.
	after := statLine[strings.LastIndexByte(statLine, ')')+1:]
	if n := len(strings.Fields(after)) + 2; n != 52 {
		t.Fatalf("statLine has %d fields, want 52", n)
	}
}

func TestParseStatCommWithSpacesAndParentheses(t *testing.T) {
	p, err := parseStat([]byte(statLine))
	if err != nil {
		t.Fatalf("parseStat: %v", err)
	}
	if p.PID != 1234 || p.PPID != 1230 || p.State != "S" {
		t.Errorf("PID, PPID, State = %d, %d, %q; want 1234, 1230, S", p.PID, p.PPID, p.State)
	}
	if p.Comm != "runc:[2:INIT] (x)" {
		t.Errorf("Comm = %q, want %q", p.Comm, "runc:[2:INIT] (x)")
	}
	if want := bootTime().Add(43210 * time.Millisecond); !p.Started.Equal(want) {
		t.Errorf("Started = %v, want boot + 43.21s = %v", p.Started, want)
	}
	if p.Cmdline != nil || p.Wchan != "" {
		t.Errorf("parseStat set Cmdline/Wchan: %q %q", p.Cmdline, p.Wchan)
	}
}

func TestParseStatErrors(t *testing.T) {
	tests := []struct {
		name, stat, want string
	}{
		{"no parentheses", "1234 runc S 1", "no comm"},
		{"closing before opening", "1234 )runc( S 1", "no comm"},
		{"bad pid", "abc (runc) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", "pid"},
		{"too few fields", "1234 (runc) S 1 1 1", "only 4 fields after comm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseStat([]byte(tt.stat))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseSyscall(t *testing.T) {
	tests := []struct {
		raw  string
		want Syscall
	}{
		{"1 0x6 0xf0d20b0 0x3318 0x7f 0x0 0xeea 0x7ff 0x7f1", Syscall{Number: 1, Name: "write",
			Args: []uint64{6, 0xf0d20b0, 13080, 0x7f, 0, 0xeea},
			Raw:  "1 0x6 0xf0d20b0 0x3318 0x7f 0x0 0xeea 0x7ff 0x7f1"}},
		{"202 0xc000080148 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x46a\n", Syscall{Number: 202, Name: "futex",
			Args: []uint64{0xc000080148, 0x80, 0, 0, 0, 0},
			Raw:  "202 0xc000080148 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x46a"}},
		{"-1 0x7ff 0x7f1", Syscall{Number: -1, Raw: "-1 0x7ff 0x7f1"}},
		{"running", Syscall{Number: -1, Raw: "running"}},
		{"running\n", Syscall{Number: -1, Raw: "running"}},
		{"", Syscall{Number: -1, Raw: ""}},
		{"garbage here", Syscall{Number: -1, Raw: "garbage here"}},
		{"999 0x1 zz 0x3", Syscall{Number: 999, Name: "syscall 999", Args: []uint64{1}, Raw: "999 0x1 zz 0x3"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			if got := ParseSyscall(tt.raw); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSyscall(%q) = %+v, want %+v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestDecodeCapsDockerDefault(t *testing.T) {
	// Docker's 14 default capabilities, in bit order.
	want := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW",
		"CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
	}
	got := DecodeCaps("00000000a80425fb")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeCaps = %q, want %q", got, want)
	}
}

func TestDecodeCaps(t *testing.T) {
	tests := []struct {
		hex  string
		want []string
	}{
		{"0000000000000000", nil},
		{"0000000000000001", []string{"CAP_CHOWN"}},
		{"0000000000200000\n", []string{"CAP_SYS_ADMIN"}},
		{"0000000001000000", []string{"CAP_SYS_RESOURCE"}},
		{"0000010000000000", []string{"CAP_CHECKPOINT_RESTORE"}},
		{"0000020000000000", []string{"cap_41"}},
		{"8000000000000000", []string{"cap_63"}},
		{"xyz", nil},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.hex, func(t *testing.T) {
			if got := DecodeCaps(tt.hex); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeCaps(%q) = %q, want %q", tt.hex, got, tt.want)
			}
		})
	}
	if n := len(DecodeCaps("000001ffffffffff")); n != 41 {
		t.Errorf("full mask decodes to %d names, want 41", n)
	}
}

func TestParseStack(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"kernel stack", "[<0>] anon_pipe_write+0x2f6/0x5a0\n[<0>] vfs_write+0x36e/0x3f0\n[<0>] ksys_write+0x6f/0xf0\n",
			[]string{"anon_pipe_write+0x2f6/0x5a0", "vfs_write+0x36e/0x3f0", "ksys_write+0x6f/0xf0"}},
		{"with addresses and blank lines", "[<ffffffff8a1b2c3d>] pipe_wait+0x70/0xc0\n\n  [<0>] do_syscall_64+0x55/0x90  \n",
			[]string{"pipe_wait+0x70/0xc0", "do_syscall_64+0x55/0x90"}},
		{"no bracket prefix", "schedule+0x1/0x2\n", []string{"schedule+0x1/0x2"}},
		{"empty", "", nil},
		{"only whitespace", "\n \n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseStack([]byte(tt.raw)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseStack = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseIO(t *testing.T) {
	tests := []struct {
		name         string
		raw          string
		rchar, wchar uint64
	}{
		{"full file", "rchar: 2012\nwchar: 13080\nsyscr: 7\nsyscw: 3\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n", 2012, 13080},
		{"large values", "rchar: 18446744073709551615\nwchar: 0\n", 18446744073709551615, 0},
		{"missing wchar", "rchar: 5\n", 5, 0},
		{"empty", "", 0, 0},
		{"not read_bytes", "read_bytes: 99\nwrite_bytes: 98\n", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := parseIO([]byte(tt.raw))
			if r != tt.rchar || w != tt.wchar {
				t.Errorf("parseIO = %d, %d; want %d, %d", r, w, tt.rchar, tt.wchar)
			}
		})
	}
}

func TestPipeInode(t *testing.T) {
	tests := []struct {
		target string
		inode  uint64
		ok     bool
	}{
		{"pipe:[11045]", 11045, true},
		{"pipe:[0]", 0, true},
		{"socket:[11045]", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
		{"/dev/null", 0, false},
		{"pipe:[abc]", 0, false},
		{"pipe:[]", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			inode, ok := PipeInode(tt.target)
			if inode != tt.inode || ok != tt.ok {
				t.Errorf("PipeInode(%q) = %d, %v; want %d, %v", tt.target, inode, ok, tt.inode, tt.ok)
			}
		})
	}
}

func TestSyscallName(t *testing.T) {
	tests := []struct {
		nr   int
		want string
	}{
		{0, "read"}, {1, "write"}, {61, "wait4"}, {202, "futex"}, {232, "epoll_wait"},
		{281, "epoll_pwait"}, {441, "epoll_pwait2"}, {999, "syscall 999"}, {-1, "syscall -1"},
	}
	for _, tt := range tests {
		if got := SyscallName(tt.nr); got != tt.want {
			t.Errorf("SyscallName(%d) = %q, want %q", tt.nr, got, tt.want)
		}
	}
}

func TestApplyStatus(t *testing.T) {
	status := "Name:\trunc:[2:INIT]\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t1000\t1000\t1000\n" +
		"Threads:\t7\nCapEff:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n"
	var s ProcessSnapshot
	applyStatus(&s, []byte(status))
	if s.UID != 1000 || s.Threads != 7 || !s.NoNewPrivs || s.Seccomp != 2 || s.CapEff != "00000000a80425fb" {
		t.Errorf("applyStatus = uid %d threads %d nnp %v seccomp %d capeff %q", s.UID, s.Threads, s.NoNewPrivs, s.Seccomp, s.CapEff)
	}
	if len(s.CapEffNames) != 14 || !s.HasCap("CAP_SETFCAP") || s.HasCap("CAP_SYS_ADMIN") {
		t.Errorf("CapEffNames = %q", s.CapEffNames)
	}
}

// fakeProc lays out a /proc-like tree for one process.
func fakeProc(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write("1234/stat", statLine)
	write("1234/cmdline", "runc\x00init\x00")
	write("1234/wchan", "anon_pipe_write")
	write("1234/comm", "runc:[2:INIT]\n")
	link("pipe:[11045]", "1234/fd/5")
	link("pipe:[11045]", "1234/fd/6")
	link("socket:[77]", "1234/fd/3")
	write("1234/fdinfo/5", "pos:\t0\nflags:\t02000000\nmnt_id:\t14\nino:\t11045\n")
	write("1234/fdinfo/6", "pos:\t0\nflags:\t02000001\nmnt_id:\t14\nino:\t11045\n")
	write("1234/fdinfo/3", "pos:\t0\nflags:\t02000002\n")
	write("self/stat", "ignored")
	write("sys/kernel/x", "ignored")
	write("4230/stat", "4230 (runc) S 1 4230 4230 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n")
	write("4230/comm", "runc\n")
	link("pipe:[11045]", "4230/fd/9")
	write("4230/fdinfo/9", "pos:\t0\nflags:\t0100002\n")
	link("pipe:[999]", "4230/fd/10")
	return root
}

func TestProcFSProcessFromFakeRoot(t *testing.T) {
	fs := ProcFS{Root: fakeProc(t)}
	p, err := fs.Process(1234)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	want := Process{PID: 1234, PPID: 1230, Comm: "runc:[2:INIT] (x)", Cmdline: []string{"runc", "init"},
		State: "S", Wchan: "anon_pipe_write", Started: p.Started}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Process = %+v, want %+v", p, want)
	}
	if p.CommandLine() != "runc init" {
		t.Errorf("CommandLine() = %q", p.CommandLine())
	}
	if _, err := fs.Process(777); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Process(777) err = %v, want ErrNoProcess", err)
	}
	procs, err := fs.Processes()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range procs {
		pids = append(pids, p.PID)
	}
	sort.Ints(pids)
	if !reflect.DeepEqual(pids, []int{1234, 4230}) {
		t.Errorf("Processes PIDs = %v, want [1234 4230]", pids)
	}
}

func TestProcFSPipeHoldersFromFakeRoot(t *testing.T) {
	fs := ProcFS{Root: fakeProc(t)}
	holders, err := fs.PipeHolders(11045)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(holders, func(i, j int) bool {
		if holders[i].PID != holders[j].PID {
			return holders[i].PID < holders[j].PID
		}
		return holders[i].FD < holders[j].FD
	})
	want := []PipeHolder{
		{PID: 1234, Comm: "runc:[2:INIT]", FD: 5, Access: "r"},
		{PID: 1234, Comm: "runc:[2:INIT]", FD: 6, Access: "w"},
		{PID: 4230, Comm: "runc", FD: 9, Access: "rw"},
	}
	if !reflect.DeepEqual(holders, want) {
		t.Errorf("PipeHolders = %+v, want %+v", holders, want)
	}
	if h, err := fs.PipeHolders(1); err != nil || len(h) != 0 {
		t.Errorf("PipeHolders(1) = %+v, %v; want none", h, err)
	}
}

func TestLocalSnapshotOfMissingProcessIsErrNoProcess(t *testing.T) {
	if _, err := LocalProc.Snapshot(1 << 30); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Snapshot(1<<30) err = %v, want ErrNoProcess", err)
	}
}

// TestLocalSnapshotSeesOwnPipe creates a real pipe in the test process with
// 100 bytes queued and reads it back through /proc.
func TestLocalSnapshotSeesOwnPipe(t *testing.T) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	// Its capacity is the kernel's to say (FreshPipeSize).
	size, err := FreshPipeSize()
	if err != nil {
		t.Fatalf("F_GETPIPE_SZ: %v", err)
	}
	if n, err := unix.Write(fds[1], make([]byte, 100)); err != nil || n != 100 {
		t.Fatalf("write = %d, %v", n, err)
	}
	pid := os.Getpid()
	s, err := LocalProc.Snapshot(pid)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if s.PID != pid {
		t.Errorf("PID = %d, want %d", s.PID, pid)
	}
	r, okR := s.FD(fds[0])
	w, okW := s.FD(fds[1])
	if !okR || !okW {
		t.Fatalf("snapshot lacks fd %d or %d: %+v", fds[0], fds[1], s.FDs)
	}
	if r.PipeInode == 0 || r.PipeInode != w.PipeInode {
		t.Fatalf("PipeInode = %d and %d, want the same nonzero inode", r.PipeInode, w.PipeInode)
	}
	inode := r.PipeInode
	wantTarget := "pipe:[" + strconv.FormatUint(inode, 10) + "]"
	for _, c := range []struct {
		fd     FD
		access string
	}{{r, "r"}, {w, "w"}} {
		if c.fd.Target != wantTarget || c.fd.Access != c.access || c.fd.PipeSize != size || c.fd.PipeQueued != 100 {
			t.Errorf("fd %d = %+v, want target %s access %s size %d queued 100", c.fd.Num, c.fd, wantTarget, c.access, size)
		}
	}
	if ends := s.PipeEnds(inode); len(ends) != 2 {
		t.Errorf("PipeEnds = %+v, want 2", ends)
	}
	// Reading the sizes must not have drained the pipe.
	if q, err := unix.IoctlGetInt(fds[0], unix.TIOCINQ); err != nil || q != 100 {
		t.Errorf("queued after Snapshot = %d, %v; want 100", q, err)
	}

	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	holders, err := LocalProc.PipeHolders(inode)
	if err != nil {
		t.Fatalf("PipeHolders: %v", err)
	}
	sort.Slice(holders, func(i, j int) bool { return holders[i].FD < holders[j].FD })
	want := []PipeHolder{
		{PID: pid, Comm: strings.TrimSpace(string(comm)), FD: fds[0], Access: "r"},
		{PID: pid, Comm: strings.TrimSpace(string(comm)), FD: fds[1], Access: "w"},
	}
	if !reflect.DeepEqual(holders, want) {
		t.Errorf("PipeHolders = %+v, want %+v", holders, want)
	}
}
