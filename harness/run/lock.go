package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/poll"
)

// HostLock is held by the experiments allowed to change this host: one
// run that changes the host itself holds it alone (exclusive); runs whose
// changes live in a VM of their own share it, so they may run side by
// side but never beside a run that changes the host.
type HostLock struct{ f *os.File }

// LockHost takes the host lock exclusively without waiting; if another
// relapse run holds it, the error names the processes holding it.
func LockHost(stateDir string) (*HostLock, error) {
	return AcquireHost(context.Background(), stateDir, true, 0)
}

// AcquireHost takes the host lock, exclusive or shared, waiting up to wait
// for it (0: not at all). A run that waited in vain says who held the lock.
func AcquireHost(ctx context.Context, stateDir string, exclusive bool, wait time.Duration) (*HostLock, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir %s: %w", stateDir, err)
	}
	path := filepath.Join(stateDir, "host.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening host lock %s: %w", path, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	// A bound of 0 tries once.
	err = poll.Within(ctx, wait, 500*time.Millisecond, func(context.Context) (bool, error) {
		return unix.Flock(int(f.Fd()), how|unix.LOCK_NB) == nil, nil
	})
	if err != nil {
		// Who holds it now, as the kernel says: a pid written into
		// the file would name whoever held it exclusively last, long
		// gone when VM runs share it.
		held := describeHolders(lockHolders(f))
		f.Close()
		waited := ""
		if wait > 0 {
			waited = fmt.Sprintf(" (waited %s)", wait)
		}
		return nil, fmt.Errorf("another relapse run is changing this host: %s%s; wait for it (--lock-wait) or stop it (lock %s)",
			held, waited, path)
	}
	return &HostLock{f: f}, nil
}

// Unlock releases the lock.
func (l *HostLock) Unlock() {
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}
