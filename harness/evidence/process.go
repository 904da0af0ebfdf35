package evidence

import (
	"fmt"
	"strings"
	"time"
)

// Process is the cheap view of a process, enough to pick candidates.
type Process struct {
	PID     int      `json:"pid"`
	PPID    int      `json:"ppid"`
	Comm    string   `json:"comm"`
	Cmdline []string `json:"cmdline"`
	State   string   `json:"state"`
	// Wchan is the kernel function the process sleeps in ("" or "0" when running).
	Wchan string `json:"wchan"`
	// Started is when the process started (derived from /proc/PID/stat starttime).
	Started time.Time `json:"started"`
}

// CommandLine is the process's argv joined for display.
func (p Process) CommandLine() string {
	if len(p.Cmdline) == 0 {
		return "[" + p.Comm + "]"
	}
	return strings.Join(p.Cmdline, " ")
}

// Syscall is the system call a blocked process is in, from /proc/PID/syscall.
type Syscall struct {
	// Number is the syscall number; -1 means the process is not in a syscall.
	Number int      `json:"number"`
	Name   string   `json:"name"`
	Args   []uint64 `json:"args"`
	Raw    string   `json:"raw"`
}

// FD is one open file descriptor of a process.
type FD struct {
	Num    int    `json:"num"`
	Target string `json:"target"`
	// Access is "r", "w" or "rw", from the flags in /proc/PID/fdinfo.
	Access string `json:"access"`
	// PipeInode is set when the fd is a pipe ("pipe:[N]").
	PipeInode uint64 `json:"pipe_inode,omitempty"`
	// PipeSize is the pipe's capacity in bytes (F_GETPIPE_SZ).
	PipeSize int `json:"pipe_size,omitempty"`
	// PipeQueued is how many bytes wait in the pipe unread (FIONREAD).
	PipeQueued int `json:"pipe_queued,omitempty"`
}

// ProcessSnapshot is the deep view of one process at one instant.
type ProcessSnapshot struct {
	Process
	Taken      time.Time `json:"taken"`
	UID        int       `json:"uid"`
	Threads    int       `json:"threads"`
	NoNewPrivs bool      `json:"no_new_privs"`
	// CapEff is the effective capability set as /proc prints it (hex).
	CapEff string `json:"cap_eff"`
	// CapEffNames decodes CapEff.
	CapEffNames []string `json:"cap_eff_names"`
	Seccomp     int      `json:"seccomp"`
	Stack       []string `json:"stack,omitempty"`
	// StackError says why the kernel stack could not be read, if it could not.
	StackError string  `json:"stack_error,omitempty"`
	Syscall    Syscall `json:"syscall"`
	FDs        []FD    `json:"fds"`
	// RChar and WChar are the byte counters of /proc/PID/io (the whole
	// process: every thread's reads and writes).
	RChar uint64 `json:"rchar"`
	WChar uint64 `json:"wchar"`
	// Tasks are the process's threads with their scheduler state: a
	// process blocked in one thread may still make progress in another.
	Tasks []Task `json:"tasks,omitempty"`
}

// Task is one thread of a process.
type Task struct {
	TID   int    `json:"tid"`
	State string `json:"state"`
	Wchan string `json:"wchan,omitempty"`
}

// OthersAsleep reports whether every thread but the process's main one is
// sleeping (S or D): none is running or runnable, so none is about to
// read or write anything. A snapshot without thread states says no.
func (s ProcessSnapshot) OthersAsleep() bool {
	if len(s.Tasks) == 0 {
		return false
	}
	for _, t := range s.Tasks {
		if t.TID != s.PID && t.State != "S" && t.State != "D" {
			return false
		}
	}
	return true
}

// HasCap reports whether the effective set holds the named capability
// ("CAP_SYS_ADMIN").
func (s ProcessSnapshot) HasCap(name string) bool {
	for _, c := range s.CapEffNames {
		if c == name {
			return true
		}
	}
	return false
}

// FD returns the descriptor with the given number.
func (s ProcessSnapshot) FD(num int) (FD, bool) {
	for _, fd := range s.FDs {
		if fd.Num == num {
			return fd, true
		}
	}
	return FD{}, false
}

// PipeEnds returns the descriptors of this process on the given pipe.
func (s ProcessSnapshot) PipeEnds(inode uint64) []FD {
	var ends []FD
	for _, fd := range s.FDs {
		if fd.PipeInode == inode {
			ends = append(ends, fd)
		}
	}
	return ends
}

// Summary is one line for logs.
func (s ProcessSnapshot) Summary() string {
	return fmt.Sprintf("pid %d %q state %s wchan %s syscall %s", s.PID, s.Comm, s.State, s.Wchan, s.Syscall.Name)
}
