package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// The findings of report.html: each finding with its evidence (process
// snapshots, the pipe a writer waits on, stacks) as the page shows it.

type findingView struct {
	F       Finding
	Index   int
	Latency string
	Snaps   []snapView
}

type snapView struct {
	S         evidence.ProcessSnapshot
	Anchor    string
	Cmdline   string
	Seccomp   string
	Syscall   string
	CallText  string
	Args      []argView
	Call      *pipeCall
	FDs       []fdView
	Frames    []frameView
	PipeFDs   int
	InSyscall bool
}

type argView struct {
	Name, Hex, Dec string
	Hot            bool
}

type fdView struct {
	evidence.FD
	IsPipe bool
	// Class is "", "pipe", "hot" (on the pipe a read/write is blocked on)
	// or "call" (the fd of a read/write that is not a pipe).
	Class string
	Note  string
}

type frameView struct {
	Text string
	Hot  bool
}

// pipeCall is a process caught in read(2) or write(2), with what the fd is.
type pipeCall struct {
	Verb     string
	Blocked  bool
	FD       int
	Count    uint64
	Found    bool
	Target   string
	IsPipe   bool
	Inode    uint64
	Size     int
	Queued   int
	Full     bool
	Larger   bool
	Wchan    string
	OwnEnds  []string
	Others   []string
	Headline string
}

// callOf says whether the snapshot's syscall is read or write; "" otherwise.
func callOf(sc evidence.Syscall) string {
	if len(sc.Args) == 0 {
		return ""
	}
	switch {
	case sc.Name == "write" || (sc.Name == "" && sc.Number == 1):
		return "write"
	case sc.Name == "read" || (sc.Name == "" && sc.Number == 0):
		return "read"
	}
	return ""
}

func newFindingView(i int, f Finding) findingView {
	fv := findingView{F: f, Index: i + 1, Latency: fmtDuration(f.Latency())}
	// hot maps a pipe inode to the processes blocked in read/write on it.
	type blocked struct {
		pid  int
		fd   int
		verb string
	}
	hot := map[uint64][]blocked{}
	for _, s := range f.Processes {
		verb := callOf(s.Syscall)
		if verb == "" {
			continue
		}
		fd, ok := s.FD(int(s.Syscall.Args[0]))
		if ok && fd.PipeInode != 0 {
			hot[fd.PipeInode] = append(hot[fd.PipeInode], blocked{s.PID, fd.Num, verb})
		}
	}
	for _, s := range f.Processes {
		sv := snapView{S: s, Anchor: fmt.Sprintf("f%d-pid%d", i+1, s.PID), Cmdline: s.CommandLine(),
			Seccomp: seccompMode(s.Seccomp)}
		verb := callOf(s.Syscall)
		if s.Syscall.Number >= 0 {
			sv.InSyscall = true
			name := s.Syscall.Name
			if name == "" {
				name = evidence.SyscallName(s.Syscall.Number)
			}
			sv.Syscall = fmt.Sprintf("%s (%d)", name, s.Syscall.Number)
		} else {
			sv.Syscall = "not in a syscall"
		}
		sv.CallText = sv.Syscall
		if verb != "" && len(s.Syscall.Args) >= 3 {
			a := s.Syscall.Args
			sv.CallText = fmt.Sprintf("%s(%d, 0x%x, %d)", verb, a[0], a[1], a[2])
		}
		for j, a := range s.Syscall.Args {
			av := argView{Name: fmt.Sprintf("arg%d", j), Hex: fmt.Sprintf("0x%x", a), Dec: strconv.FormatUint(a, 10)}
			if int64(a) < 0 {
				av.Dec += fmt.Sprintf(" (%d)", int64(a))
			}
			if verb != "" && j < 3 {
				av.Name += " " + []string{"fd", "buf", "count"}[j]
				av.Hot = j != 1
			}
			sv.Args = append(sv.Args, av)
		}
		var ownInode uint64
		ownFD := -1
		if verb != "" {
			ownFD = int(s.Syscall.Args[0])
			if fd, ok := s.FD(ownFD); ok {
				ownInode = fd.PipeInode
			}
			sv.Call = newPipeCall(s, verb)
		}
		for _, fd := range s.FDs {
			fdv := fdView{FD: fd, IsPipe: fd.PipeInode != 0}
			if fdv.IsPipe {
				fdv.Class = "pipe"
				sv.PipeFDs++
			}
			switch {
			case fd.Num == ownFD && verb != "":
				fdv.Class = "hot"
				if !fdv.IsPipe {
					fdv.Class = "call"
				}
				fdv.Note = fmt.Sprintf("◀ %s(2) is blocked on this fd", verb)
				if !sv.Call.Blocked {
					fdv.Note = fmt.Sprintf("◀ in %s(2) on this fd", verb)
				}
			case ownInode != 0 && fd.PipeInode == ownInode:
				fdv.Class = "hot"
				fdv.Note = fmt.Sprintf("same pipe as the %s(2) on fd %d", verb, ownFD)
				if verb == "write" && strings.Contains(fd.Access, "r") {
					fdv.Note += ": the writer itself holds a read end"
				}
			case fd.PipeInode != 0 && len(hot[fd.PipeInode]) > 0:
				fdv.Class = "hot"
				var who []string
				for _, b := range hot[fd.PipeInode] {
					if b.pid != s.PID {
						who = append(who, fmt.Sprintf("pid %d's %s(2) on fd %d", b.pid, b.verb, b.fd))
					}
				}
				if len(who) > 0 {
					fdv.Note = "same pipe as " + strings.Join(who, ", ")
				}
			}
			sv.FDs = append(sv.FDs, fdv)
		}
		if sv.Call != nil && sv.Call.Inode != 0 {
			for _, o := range f.Processes {
				if o.PID == s.PID {
					continue
				}
				for _, e := range o.PipeEnds(sv.Call.Inode) {
					sv.Call.Others = append(sv.Call.Others, fmt.Sprintf("pid %d %s fd %d (%s)", o.PID, o.Comm, e.Num, orDash(e.Access)))
				}
			}
		}
		for _, fr := range s.Stack {
			sv.Frames = append(sv.Frames, frameView{Text: fr, Hot: strings.Contains(fr, "pipe_")})
		}
		fv.Snaps = append(fv.Snaps, sv)
	}
	return fv
}

func newPipeCall(s evidence.ProcessSnapshot, verb string) *pipeCall {
	a := s.Syscall.Args
	c := &pipeCall{Verb: verb, FD: int(a[0]), Wchan: s.Wchan}
	state := strings.TrimSpace(s.State)
	c.Blocked = strings.HasPrefix(state, "S") || strings.HasPrefix(state, "D")
	if len(a) > 2 {
		c.Count = a[2]
	}
	if fd, ok := s.FD(c.FD); ok {
		c.Found = true
		c.Target = fd.Target
		c.IsPipe = fd.PipeInode != 0
		c.Inode = fd.PipeInode
		c.Size = fd.PipeSize
		c.Queued = fd.PipeQueued
		c.Full = c.IsPipe && c.Size > 0 && c.Queued >= c.Size
		c.Larger = c.IsPipe && c.Size > 0 && c.Count > uint64(c.Size)
		if c.IsPipe {
			for _, e := range s.PipeEnds(c.Inode) {
				if e.Num != c.FD {
					c.OwnEnds = append(c.OwnEnds, fmt.Sprintf("fd %d (%s)", e.Num, orDash(e.Access)))
				}
			}
		}
	}
	lead := "Caught "
	if c.Blocked {
		lead = "Blocked "
	}
	switch {
	case verb == "write" && c.IsPipe && c.Size > 0:
		c.Headline = fmt.Sprintf("%swriting %d bytes into %s %d-byte pipe", lead, c.Count, textutil.Article(c.Size), c.Size)
	case verb == "write" && c.IsPipe:
		c.Headline = fmt.Sprintf("%swriting %d bytes into a pipe", lead, c.Count)
	case verb == "write":
		c.Headline = fmt.Sprintf("%swriting %d bytes to fd %d", lead, c.Count, c.FD)
	case c.IsPipe && c.Size > 0:
		c.Headline = fmt.Sprintf("%sreading up to %d bytes from %s %d-byte pipe", lead, c.Count, textutil.Article(c.Size), c.Size)
	default:
		c.Headline = fmt.Sprintf("%sreading up to %d bytes from fd %d", lead, c.Count, c.FD)
	}
	return c
}

func seccompMode(m int) string {
	switch m {
	case 0:
		return "0 (disabled)"
	case 1:
		return "1 (strict)"
	case 2:
		return "2 (filter)"
	}
	return strconv.Itoa(m)
}
