package systemdbus

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/relapse-dev/relapse/harness/node/agent"
)

// CookieMove is what bus-cookie printed: how PID 1's cookie was found and
// where it was put.
type CookieMove struct {
	// Address is where sd_bus's cookie of PID 1's system-bus connection lives.
	Address uint64 `json:"address"`
	// Before is the cookie when it was found; Target what was written.
	Before uint64 `json:"before"`
	Target uint64 `json:"target"`
	// Candidates is how many addresses held the cookie after each round.
	Candidates []int `json:"candidates"`
	// Regions and Bytes say how much of PID 1's memory was scanned.
	Regions int   `json:"regions"`
	Bytes   int64 `json:"bytes"`
	// After is the first serial PID 1 was seen sending after the write
	// (0 when it sent nothing before the deadline).
	After   uint32  `json:"after"`
	Seconds float64 `json:"seconds"`
}

func init() {
	agent.Register("bus-cookie", "bus-cookie TARGET", func(ctx context.Context, args []string, out io.Writer) error {
		if len(args) < 1 {
			return errors.New("want TARGET (the cookie value to set, e.g. 4294967000)")
		}
		target, err := strconv.ParseUint(args[0], 0, 64)
		if err != nil {
			return err
		}
		m, err := MoveCookie(ctx, target)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(m)
	})
}

// MoveCookie finds PID 1's system-bus cookie and sets it to target. The
// cookie is found the way a memory scanner finds a game score: make PID 1
// send a reply, scan its writable memory for the serial it just used,
// then repeat and keep the addresses that followed. It only writes once a
// single address is left.
func MoveCookie(ctx context.Context, target uint64) (CookieMove, error) {
	start := time.Now()
	var m CookieMove
	watch, err := WatchSerials()
	if err != nil {
		return m, err
	}
	defer watch.Close()
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return m, err
	}
	defer conn.Close()
	obj := conn.Object(systemdName, systemdPath)
	ping := func() error {
		_, err := call(ctx, obj, 5*time.Second, "org.freedesktop.DBus.Peer.Ping")
		if err != nil {
			return err
		}
		watch.Quiet(ctx, 150*time.Millisecond)
		return nil
	}
	mem, err := os.OpenFile("/proc/1/mem", os.O_RDWR, 0)
	if err != nil {
		return m, fmt.Errorf("opening PID 1's memory (needs root in the node): %w", err)
	}
	defer mem.Close()

	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		m.Candidates = nil
		if err := ping(); err != nil {
			return m, err
		}
		cookie, _, _ := watch.Last()
		cands, regions, bytes, err := scan(mem, uint64(cookie))
		if err != nil {
			return m, err
		}
		m.Regions, m.Bytes = regions, bytes
		m.Candidates = append(m.Candidates, len(cands))
		for round := 0; len(cands) > 1 && round < 12; round++ {
			if err := ping(); err != nil {
				return m, err
			}
			cookie, _, _ = watch.Last()
			cands = keep(mem, cands, uint64(cookie))
			m.Candidates = append(m.Candidates, len(cands))
		}
		if len(cands) != 1 {
			continue
		}
		m.Address, m.Before, m.Target = cands[0], uint64(cookie), target
		var buf [8]byte
		binary.LittleEndian.PutUint64(buf[:], target)
		if _, err := mem.WriteAt(buf[:], int64(m.Address)); err != nil {
			return m, fmt.Errorf("writing PID 1's cookie at %#x: %w", m.Address, err)
		}
		// The next thing PID 1 sends shows whether the write took. On an
		// affected systemd the reply may never come; that is not an error
		// here, it is what the scenario looks for.
		_ = ping()
		m.After, _, _ = watch.Last()
		m.Seconds = time.Since(start).Seconds()
		return m, nil
	}
	return m, fmt.Errorf("could not single out PID 1's bus cookie: candidates per round %v", m.Candidates)
}

// scan returns the 8-byte aligned addresses in PID 1's private writable
// mappings (heap and anonymous) holding value.
func scan(mem *os.File, value uint64) (addrs []uint64, regions int, total int64, err error) {
	maps, err := os.Open("/proc/1/maps")
	if err != nil {
		return nil, 0, 0, err
	}
	defer maps.Close()
	sc := bufio.NewScanner(maps)
	buf := make([]byte, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || !strings.HasPrefix(f[1], "rw-p") {
			continue
		}
		if len(f) >= 6 && f[5] != "[heap]" {
			continue
		}
		lo, hi, ok := parseRange(f[0])
		if !ok || hi-lo > 1<<30 {
			continue
		}
		regions++
		for off := lo; off < hi; off += uint64(len(buf)) {
			n := min(uint64(len(buf)), hi-off)
			got, err := mem.ReadAt(buf[:n], int64(off))
			if err != nil && got == 0 {
				break
			}
			total += int64(got)
			for i := 0; i+8 <= got; i += 8 {
				if binary.LittleEndian.Uint64(buf[i:]) == value {
					addrs = append(addrs, off+uint64(i))
				}
			}
		}
	}
	return addrs, regions, total, sc.Err()
}

// keep returns the addresses that now hold value.
func keep(mem *os.File, addrs []uint64, value uint64) []uint64 {
	var out []uint64
	var b [8]byte
	for _, a := range addrs {
		if _, err := mem.ReadAt(b[:], int64(a)); err == nil && binary.LittleEndian.Uint64(b[:]) == value {
			out = append(out, a)
		}
	}
	return out
}

func parseRange(s string) (lo, hi uint64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseUint(a, 16, 64)
	hi, err2 := strconv.ParseUint(b, 16, 64)
	return lo, hi, err1 == nil && err2 == nil && hi > lo
}
