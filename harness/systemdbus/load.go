package systemdbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/relapse-dev/relapse/harness/node/agent"
)

// LoadProgress is a dbus-load JSON line: totals so far.
type LoadProgress struct {
	At       time.Time `json:"at"`
	Started  int       `json:"started"`
	Stopped  int       `json:"stopped"`
	Errors   int       `json:"errors"`
	Timeouts int       `json:"timeouts"`
	// P50Ms, P95Ms and MaxMs are StartTransientUnit latencies this period.
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	MaxMs     float64 `json:"max_ms"`
	LastError string  `json:"last_error,omitempty"`
	Done      bool    `json:"done,omitempty"`
}

func init() {
	agent.Register("dbus-load", "dbus-load RATE DURATION PREFIX", func(ctx context.Context, args []string, out io.Writer) error {
		if len(args) < 3 {
			return errors.New("want RATE (units/s) DURATION PREFIX")
		}
		rate, err := strconv.ParseFloat(args[0], 64)
		if err != nil || rate <= 0 {
			return fmt.Errorf("RATE %q: want a positive number of units per second", args[0])
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return err
		}
		return Load(ctx, rate, d, args[2], json.NewEncoder(out))
	})
}

// Load starts and stops transient services named PREFIX-N.service at rate
// per second for d (or until ctx ends), printing progress every second. A
// unit is what runc's systemd driver asks for per container; each start
// makes PID 1 send a reply, job and unit signals.
func Load(ctx context.Context, rate float64, d time.Duration, prefix string, enc *json.Encoder) error {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return fmt.Errorf("connecting to the system bus: %w", err)
	}
	defer conn.Close()
	mgr := conn.Object(systemdName, systemdPath)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var p LoadProgress
	var lat []float64
	report := func(done bool) error {
		sort.Float64s(lat)
		p.At, p.Done = time.Now().UTC(), done
		p.P50Ms, p.P95Ms, p.MaxMs = quantile(lat, 0.5), quantile(lat, 0.95), quantile(lat, 1)
		lat = lat[:0]
		return enc.Encode(p)
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	second := time.NewTicker(time.Second)
	defer second.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return report(true)
		case <-second.C:
			if err := report(false); err != nil {
				return err
			}
			continue
		case <-tick.C:
		}
		unit := fmt.Sprintf("%s-%d.service", prefix, n)
		props := []struct {
			Name  string
			Value dbus.Variant
		}{
			{"Description", dbus.MakeVariant("relapse D-Bus load " + unit)},
			{"ExecStart", dbus.MakeVariant([]struct {
				Path          string
				Args          []string
				IgnoreFailure bool
			}{{"/bin/sleep", []string{"/bin/sleep", "30"}, false}})},
			{"CollectMode", dbus.MakeVariant("inactive-or-failed")},
		}
		start := time.Now()
		_, err := call(ctx, mgr, 5*time.Second, managerIf+".StartTransientUnit", unit, "replace", props, []struct {
			Name  string
			Props []struct {
				Name  string
				Value dbus.Variant
			}
		}{})
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		if err != nil {
			if ctx.Err() != nil {
				return report(true)
			}
			p.Errors++
			p.LastError = err.Error()
			if errors.Is(err, ErrTimeout) {
				p.Timeouts++
			}
			continue
		}
		p.Started++
		if _, err := call(ctx, mgr, 5*time.Second, managerIf+".StopUnit", unit, "replace"); err == nil {
			p.Stopped++
		} else if ctx.Err() == nil {
			p.Errors++
			p.LastError = err.Error()
		}
	}
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}
