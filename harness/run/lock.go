package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// HostLock is held by the one experiment allowed to change this host.
type HostLock struct{ f *os.File }

// LockHost takes the host lock without waiting; if another relapse run
// holds it, the error names that run's pid.
func LockHost(stateDir string) (*HostLock, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir %s: %w", stateDir, err)
	}
	path := filepath.Join(stateDir, "host.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening host lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("another relapse run (pid %s) is changing this host; wait for it or stop it (lock %s)",
			strings.TrimSpace(string(owner)), path)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	return &HostLock{f: f}, nil
}

// Unlock releases the lock.
func (l *HostLock) Unlock() {
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}
