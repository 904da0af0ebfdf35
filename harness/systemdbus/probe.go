package systemdbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/relapse-dev/relapse/harness/node/agent"
)

// Sample is one probe call, as dbus-probe prints it (one JSON line each).
type Sample struct {
	At time.Time `json:"at"`
	// Bus is "system" (through dbus-daemon and PID 1's bus connection) or
	// "private" (systemd's own socket).
	Bus     string  `json:"bus"`
	Method  string  `json:"method"`
	Ms      float64 `json:"ms"`
	Timeout bool    `json:"timeout,omitempty"`
	Error   string  `json:"error,omitempty"`
	// Cookie is the newest serial PID 1 was seen sending on the system bus.
	Cookie  uint32 `json:"cookie"`
	Wrapped bool   `json:"wrapped,omitempty"`
}

// OK is true for an answered call.
func (s Sample) OK() bool { return !s.Timeout && s.Error == "" }

func init() {
	agent.Register("dbus-probe", "dbus-probe INTERVAL TIMEOUT", func(ctx context.Context, args []string, out io.Writer) error {
		if len(args) < 2 {
			return errors.New("want INTERVAL TIMEOUT (Go durations)")
		}
		every, err := time.ParseDuration(args[0])
		if err != nil {
			return err
		}
		timeout, err := time.ParseDuration(args[1])
		if err != nil {
			return err
		}
		return Probe(ctx, every, timeout, json.NewEncoder(out))
	})
}

// Probe samples systemd until ctx ends, writing each sample to enc.
func Probe(ctx context.Context, every, timeout time.Duration, enc *json.Encoder) error {
	watch, err := WatchSerials()
	if err != nil {
		return err
	}
	defer watch.Close()
	sys, err := dbus.ConnectSystemBus()
	if err != nil {
		return fmt.Errorf("connecting to the system bus: %w", err)
	}
	defer sys.Close()
	obj := sys.Object(systemdName, systemdPath)
	priv, privErr := dialPrivate()
	if privErr == nil {
		defer priv.Close()
	}
	sample := func(bus, method string, fn func() error) error {
		start := time.Now()
		err := fn()
		cookie, _, _ := watch.Last()
		wrapped := watch.Wrapped()
		s := Sample{At: start.UTC(), Bus: bus, Method: method, Ms: float64(time.Since(start).Microseconds()) / 1000, Cookie: cookie, Wrapped: wrapped}
		if err != nil {
			s.Error, s.Timeout = err.Error(), errors.Is(err, ErrTimeout)
		}
		return enc.Encode(s)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := sample("system", "Introspect", func() error {
			_, err := call(ctx, obj, timeout, "org.freedesktop.DBus.Introspectable.Introspect")
			return err
		}); err != nil {
			return err
		}
		if err := sample("system", "GetUnit", func() error {
			_, err := call(ctx, obj, timeout, managerIf+".GetUnit", "dbus.service")
			return err
		}); err != nil {
			return err
		}
		if err := sample("private", "Get Version", func() error {
			if privErr != nil {
				return privErr
			}
			_, err := call(ctx, priv.Object(systemdName, systemdPath), timeout, "org.freedesktop.DBus.Properties.Get", managerIf, "Version")
			return err
		}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
