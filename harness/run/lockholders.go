package run

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockHolder is a process holding a flock on the host lock.
type lockHolder struct {
	PID       int
	Exclusive bool
	// Command is its command line ("" when it has gone since).
	Command string
}

// lockHolders lists the processes holding a flock on f's file, from
// /proc/locks (waiters, the "->" lines, aside). Best effort: on any error
// it lists what it could read.
func lockHolders(f *os.File) []lockHolder {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil
	}
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return nil
	}
	defer locks.Close()
	return parseLockHolders(locks, st.Dev, st.Ino)
}

// parseLockHolders reads /proc/locks lines such as
//
//	3: FLOCK  ADVISORY  READ  4711 00:1f:123456 0 EOF
//
// keeping the flocks on the file dev:ino; the device is printed as hex
// major:minor.
func parseLockHolders(r io.Reader, dev, ino uint64) []lockHolder {
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	var out []lockHolder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "FLOCK" || f[5] != want {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil {
			continue
		}
		h := lockHolder{PID: pid, Exclusive: f[3] == "WRITE"}
		if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			h.Command = strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
		}
		out = append(out, h)
	}
	return out
}

// describeHolders names the holders for an error message.
func describeHolders(hs []lockHolder) string {
	if len(hs) == 0 {
		return "held by a run that has just let it go (try again)"
	}
	var parts []string
	for _, h := range hs {
		how := "shared: a run in a VM of its own"
		if h.Exclusive {
			how = "exclusive: a run that changes this host"
		}
		cmd := h.Command
		if cmd == "" {
			cmd = "gone since; a process it started holds the lock through an inherited descriptor"
		}
		parts = append(parts, fmt.Sprintf("pid %d (%s) %s", h.PID, how, cmd))
	}
	return "held by " + strings.Join(parts, "; ")
}
