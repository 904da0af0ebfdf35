package systemdbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	systemdName = "org.freedesktop.systemd1"
	systemdPath = dbus.ObjectPath("/org/freedesktop/systemd1")
	managerIf   = "org.freedesktop.systemd1.Manager"
	// PrivateSocket is systemd's own peer-to-peer socket (systemctl uses
	// it as root); it does not go through dbus-daemon or PID 1's
	// system-bus connection, so it keeps working when that one is broken.
	PrivateSocket = "/run/systemd/private"
)

// ErrTimeout is a call PID 1 did not answer in time.
var ErrTimeout = errors.New("no reply before the deadline")

// call makes a method call with a deadline of its own: a systemd that
// stopped replying must cost a sample, not the probe.
func call(ctx context.Context, obj dbus.BusObject, timeout time.Duration, method string, args ...any) (*dbus.Call, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := obj.CallWithContext(cctx, method, 0, args...)
	if c.Err != nil {
		if errors.Is(c.Err, context.DeadlineExceeded) || cctx.Err() != nil && ctx.Err() == nil {
			return c, fmt.Errorf("%s: %w (%s)", method, ErrTimeout, timeout)
		}
		return c, fmt.Errorf("%s: %w", method, c.Err)
	}
	return c, nil
}

// dialPrivate connects to systemd's private socket (no bus daemon, no Hello).
func dialPrivate() (*dbus.Conn, error) {
	conn, err := dbus.Dial("unix:path=" + PrivateSocket)
	if err != nil {
		return nil, err
	}
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal("0")}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// SerialWatcher follows every message PID 1 sends on the system bus, as a
// bus monitor, and keeps the newest serial: sd-bus stamps each outgoing
// message with ++cookie, so the newest serial is PID 1's cookie.
type SerialWatcher struct {
	conn *dbus.Conn
	mu   sync.Mutex
	last uint32
	seen uint64
	at   time.Time
	// wrapped is set once the serials went past 0xffffffff and around.
	wrapped bool
}

// WatchSerials starts a monitor on the system bus for messages from
// systemd's unique name.
func WatchSerials() (*SerialWatcher, error) {
	probe, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, fmt.Errorf("connecting to the system bus: %w", err)
	}
	var owner string
	err = probe.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, systemdName).Store(&owner)
	probe.Close()
	if err != nil {
		return nil, fmt.Errorf("GetNameOwner %s: %w", systemdName, err)
	}
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, err
	}
	rule := fmt.Sprintf("sender='%s'", owner)
	if err := conn.BusObject().Call("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, []string{rule}, uint32(0)).Err; err != nil {
		conn.Close()
		return nil, fmt.Errorf("BecomeMonitor (needs root): %w", err)
	}
	w := &SerialWatcher{conn: conn}
	ch := make(chan *dbus.Message, 256)
	conn.Eavesdrop(ch)
	go func() {
		for m := range ch {
			w.observe(m.Serial())
		}
	}()
	return w, nil
}

func (w *SerialWatcher) observe(serial uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A drop by more than half the space is the wrap (systemd >= 242
	// continues at 0x80000000 after 0xffffffff).
	if w.seen > 0 && serial < w.last && w.last-serial > 1<<30 {
		w.wrapped = true
	}
	w.last, w.at = serial, time.Now()
	w.seen++
}

// Last is the newest serial seen, when it was seen, and how many messages.
func (w *SerialWatcher) Last() (serial uint32, at time.Time, count uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.at, w.seen
}

// Wrapped reports whether the serials went past 0xffffffff and around.
func (w *SerialWatcher) Wrapped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wrapped
}

// Quiet waits until no message has arrived for d (bounded by ctx), so a
// read of PID 1's memory sees the cookie that matches Last.
func (w *SerialWatcher) Quiet(ctx context.Context, d time.Duration) {
	for ctx.Err() == nil {
		_, at, _ := w.Last()
		if time.Since(at) >= d {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(d / 4):
		}
	}
}

// Beyond waits until the monitor has seen more than seen messages, for at
// most d (bounded by ctx).
func (w *SerialWatcher) Beyond(ctx context.Context, seen uint64, d time.Duration) {
	deadline := time.Now().Add(d)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if _, _, n := w.Last(); n > seen {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (w *SerialWatcher) Close() { w.conn.Close() }
