package evidence

import "strconv"

// x86-64 numbers of the syscalls a stuck process is usually found in.
var syscallNames = map[int]string{
	0: "read", 1: "write", 2: "open", 3: "close", 7: "poll", 23: "select", 34: "pause",
	35: "nanosleep", 42: "connect", 43: "accept", 46: "sendmsg", 47: "recvmsg", 61: "wait4",
	130: "rt_sigsuspend", 202: "futex", 230: "clock_nanosleep", 232: "epoll_wait",
	247: "waitid", 257: "openat", 270: "pselect6", 271: "ppoll", 281: "epoll_pwait",
	288: "accept4", 437: "openat2", 441: "epoll_pwait2",
}

// SyscallName names an x86-64 syscall number, or returns "syscall N".
func SyscallName(nr int) string {
	if name, ok := syscallNames[nr]; ok {
		return name
	}
	return "syscall " + strconv.Itoa(nr)
}
