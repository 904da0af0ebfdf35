package evidence

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ProcFS reads process facts from a /proc mount. Root is normally "/proc".
type ProcFS struct {
	Root string
}

// LocalProc is the /proc of the machine relapse runs on.
var LocalProc = ProcFS{Root: "/proc"}

// clockTicks is USER_HZ; Linux reports it as 100 on every architecture Go supports.
const clockTicks = 100

// ErrNoProcess means the process exited before or while it was read.
var ErrNoProcess = errors.New("process does not exist")

func (fs ProcFS) path(pid int, name string) string {
	return filepath.Join(fs.Root, strconv.Itoa(pid), name)
}

// Processes lists every process. Processes that exit while being read are skipped.
func (fs ProcFS) Processes() ([]Process, error) { return fs.ProcessesWithComm(nil) }

// ProcessesWithComm lists the processes whose comm keep accepts (all when
// keep is nil). The others cost one read of their stat instead of three
// reads: a detector that scans every few milliseconds for a few processes
// by name would otherwise take a quarter of a core from what it watches.
func (fs ProcFS) ProcessesWithComm(keep func(comm string) bool) ([]Process, error) {
	entries, err := os.ReadDir(fs.Root)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", fs.Root, err)
	}
	var procs []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := fs.process(pid, keep)
		if err != nil || keep != nil && !keep(p.Comm) {
			continue
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// Process reads the cheap facts of one process.
func (fs ProcFS) Process(pid int) (Process, error) { return fs.process(pid, nil) }

// process reads them, past the stat only when keep (if set) accepts the
// process's comm.
func (fs ProcFS) process(pid int, keep func(comm string) bool) (Process, error) {
	stat, err := os.ReadFile(fs.path(pid, "stat"))
	if err != nil {
		if os.IsNotExist(err) || errors.Is(err, unix.ESRCH) {
			return Process{}, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
		}
		return Process{}, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	p, err := parseStat(stat)
	if err != nil {
		return Process{}, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	// Kernel threads (kthreadd and its children) have no command line, and
	// on a node they are most processes: skipping two reads each keeps a
	// detector's full scan cheap enough to repeat every few milliseconds.
	if p.PID == kthreadd || p.PPID == kthreadd || keep != nil && !keep(p.Comm) {
		return p, nil
	}
	if raw, err := os.ReadFile(fs.path(pid, "cmdline")); err == nil {
		p.Cmdline = splitCmdline(raw)
	}
	if w, err := os.ReadFile(fs.path(pid, "wchan")); err == nil {
		p.Wchan = strings.TrimSpace(string(w))
	}
	return p, nil
}

// kthreadd is the kernel's thread creator, parent of every kernel thread.
const kthreadd = 2

// parseStat reads pid, comm, state, ppid and start time from /proc/PID/stat.
// comm may hold spaces and parentheses, so it is cut at the last ')'.
func parseStat(stat []byte) (Process, error) {
	open := bytes.IndexByte(stat, '(')
	closing := bytes.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return Process{}, fmt.Errorf("no comm in %q", stat)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(stat[:open])))
	if err != nil {
		return Process{}, fmt.Errorf("pid: %w", err)
	}
	rest := strings.Fields(string(stat[closing+1:]))
	// rest[0] is field 3 (state); starttime is field 22.
	if len(rest) < 20 {
		return Process{}, fmt.Errorf("only %d fields after comm", len(rest))
	}
	ppid, _ := strconv.Atoi(rest[1])
	startTicks, _ := strconv.ParseUint(rest[19], 10, 64)
	return Process{
		PID:     pid,
		PPID:    ppid,
		Comm:    string(stat[open+1 : closing]),
		State:   rest[0],
		Started: bootTime().Add(time.Duration(startTicks) * time.Second / clockTicks),
	}, nil
}

func splitCmdline(raw []byte) []string {
	raw = bytes.TrimRight(raw, "\x00")
	if len(raw) == 0 {
		return nil
	}
	return strings.Split(string(raw), "\x00")
}

var (
	bootOnce sync.Once
	bootAt   time.Time
)

// bootTime is now minus /proc/uptime: unlike the btime line of /proc/stat
// (whole seconds) it is precise to 10 ms, which detection latencies need.
func bootTime() time.Time {
	bootOnce.Do(func() {
		data, err := os.ReadFile("/proc/uptime")
		if err != nil {
			return
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			return
		}
		secs, _ := strconv.ParseFloat(f[0], 64)
		bootAt = time.Now().Add(-time.Duration(secs * float64(time.Second)))
	})
	return bootAt
}

// Snapshot takes the deep view of one process: status, stack, syscall and
// file descriptors with pipe sizes. Parts the kernel refuses (the stack
// needs CAP_SYS_ADMIN and may be hidden) are recorded as errors, not fatal.
func (fs ProcFS) Snapshot(pid int) (ProcessSnapshot, error) {
	p, err := fs.Process(pid)
	if err != nil {
		return ProcessSnapshot{}, err
	}
	s := ProcessSnapshot{Process: p, Taken: time.Now()}
	if status, err := os.ReadFile(fs.path(pid, "status")); err == nil {
		applyStatus(&s, status)
	}
	if stack, err := os.ReadFile(fs.path(pid, "stack")); err == nil {
		s.Stack = parseStack(stack)
	} else {
		s.StackError = err.Error()
	}
	if raw, err := os.ReadFile(fs.path(pid, "syscall")); err == nil {
		s.Syscall = ParseSyscall(string(raw))
	} else {
		s.Syscall = Syscall{Number: -1, Raw: err.Error()}
	}
	s.FDs = fs.fds(pid)
	if io, err := os.ReadFile(fs.path(pid, "io")); err == nil {
		s.RChar, s.WChar = parseIO(io)
	}
	s.Tasks = fs.tasks(pid)
	return s, nil
}

// tasks reads the state and wait channel of every thread of pid.
func (fs ProcFS) tasks(pid int) []Task {
	entries, err := os.ReadDir(fs.path(pid, "task"))
	if err != nil {
		return nil
	}
	var out []Task
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(fs.path(pid, "task"), e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		p, err := parseStat(stat)
		if err != nil {
			continue
		}
		t := Task{TID: tid, State: p.State}
		if w, err := os.ReadFile(filepath.Join(dir, "wchan")); err == nil {
			t.Wchan = strings.TrimSpace(string(w))
		}
		out = append(out, t)
	}
	return out
}

// parseIO reads the rchar and wchar counters of /proc/PID/io: bytes the
// process moved through read and write calls, the cheapest progress signal.
func parseIO(raw []byte) (rchar, wchar uint64) {
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			rchar, _ = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			wchar, _ = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return rchar, wchar
}

// PipeHolder is one descriptor, in some process, on a given pipe.
type PipeHolder struct {
	PID    int    `json:"pid"`
	Comm   string `json:"comm"`
	FD     int    `json:"fd"`
	Access string `json:"access"`
}

// PipeHolders finds every process descriptor open on the pipe inode.
func (fs ProcFS) PipeHolders(inode uint64) ([]PipeHolder, error) {
	entries, err := os.ReadDir(fs.Root)
	if err != nil {
		return nil, err
	}
	want := fmt.Sprintf("pipe:[%d]", inode)
	var holders []PipeHolder
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := fs.path(pid, "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err != nil || target != want {
				continue
			}
			num, _ := strconv.Atoi(fd.Name())
			comm, _ := os.ReadFile(fs.path(pid, "comm"))
			holders = append(holders, PipeHolder{PID: pid, Comm: strings.TrimSpace(string(comm)),
				FD: num, Access: fs.fdAccess(pid, num)})
		}
	}
	return holders, nil
}

func applyStatus(s *ProcessSnapshot, status []byte) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch key {
		case "Uid":
			if f := strings.Fields(value); len(f) > 0 {
				s.UID, _ = strconv.Atoi(f[0])
			}
		case "Threads":
			s.Threads, _ = strconv.Atoi(value)
		case "NoNewPrivs":
			s.NoNewPrivs = value == "1"
		case "Seccomp":
			s.Seccomp, _ = strconv.Atoi(value)
		case "CapEff":
			s.CapEff = value
			s.CapEffNames = DecodeCaps(value)
		}
	}
}

// parseStack turns "[<0>] anon_pipe_write+0x2f/0x4a0" lines into function names with offsets.
func parseStack(raw []byte) []string {
	var frames []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "] "); i >= 0 {
			line = line[i+2:]
		}
		if line != "" {
			frames = append(frames, line)
		}
	}
	return frames
}

// ParseSyscall parses /proc/PID/syscall: "NR arg0..arg5 sp pc", "-1 sp pc"
// when the process is not in a syscall, or "running".
func ParseSyscall(raw string) Syscall {
	raw = strings.TrimSpace(raw)
	f := strings.Fields(raw)
	sc := Syscall{Number: -1, Raw: raw}
	if len(f) == 0 || f[0] == "running" {
		return sc
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil || nr < 0 {
		return sc
	}
	sc.Number = nr
	sc.Name = SyscallName(nr)
	for _, a := range f[1:] {
		if len(sc.Args) == 6 {
			break
		}
		v, err := strconv.ParseUint(strings.TrimPrefix(a, "0x"), 16, 64)
		if err != nil {
			break
		}
		sc.Args = append(sc.Args, v)
	}
	return sc
}

func (fs ProcFS) fds(pid int) []FD {
	dir := fs.path(pid, "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var fds []FD
	for _, e := range entries {
		num, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		fd := FD{Num: num, Target: target, Access: fs.fdAccess(pid, num)}
		if inode, ok := PipeInode(target); ok {
			fd.PipeInode = inode
			fd.PipeSize, fd.PipeQueued = pipeSizes(filepath.Join(dir, e.Name()))
		}
		fds = append(fds, fd)
	}
	sort.Slice(fds, func(i, j int) bool { return fds[i].Num < fds[j].Num })
	return fds
}

// fdAccess reads the access mode from the octal flags line of fdinfo.
func (fs ProcFS) fdAccess(pid, num int) string {
	info, err := os.ReadFile(filepath.Join(fs.path(pid, "fdinfo"), strconv.Itoa(num)))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			if err != nil {
				return ""
			}
			switch flags & unix.O_ACCMODE {
			case unix.O_RDONLY:
				return "r"
			case unix.O_WRONLY:
				return "w"
			default:
				return "rw"
			}
		}
	}
	return ""
}

// PipeInode extracts N from a "pipe:[N]" link target.
func PipeInode(target string) (uint64, bool) {
	v, ok := strings.CutPrefix(target, "pipe:[")
	if !ok {
		return 0, false
	}
	inode, err := strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64)
	return inode, err == nil
}

// pipeSizes opens the pipe through /proc as a non-blocking reader (which
// never blocks and never disturbs the owner) and asks its capacity and how
// much is queued in it.
func pipeSizes(fdPath string) (size, queued int) {
	f, err := os.OpenFile(fdPath, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	size, _ = unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	queued, _ = unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ) // FIONREAD
	return size, queued
}
