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

// serialSlack is how far PID 1's cookie may be ahead of the newest serial
// the monitor reported: PID 1 can send between the monitor's report and
// the read of its memory (a signal, a call to the bus driver), and under
// TCG the monitor's report can come late. The cookie is never behind it.
const serialSlack = 8

// CookieMove is what bus-cookie printed: how PID 1's cookie was found and
// where it was put.
type CookieMove struct {
	// Address is where sd_bus's cookie of PID 1's system-bus connection lives.
	Address uint64 `json:"address"`
	// Before is the cookie when it was found; Target what was written.
	Before uint64 `json:"before"`
	Target uint64 `json:"target"`
	// Candidates is how many addresses were left after each round.
	Candidates []int `json:"candidates"`
	// Rejected are addresses that followed the serials but, written, did
	// not move them: copies of the cookie (a reused message buffer). Each
	// was put back.
	Rejected []uint64 `json:"rejected,omitempty"`
	// Regions and Bytes say how much of PID 1's memory was scanned.
	Regions int   `json:"regions"`
	Bytes   int64 `json:"bytes"`
	// After is the newest serial PID 1 was seen sending after the write
	// (0 when it sent nothing before the deadline); the write is accepted
	// only when it lies just past Target.
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

// candidate is an address in PID 1's memory and the value it last held.
type candidate struct {
	addr, value uint64
}

// MoveCookie finds PID 1's system-bus cookie and sets it to target. The
// cookie is found the way a memory scanner finds a game score: make PID 1
// send a reply, scan its writable memory for values at or just past the
// serial it sent, then repeat and keep the addresses whose value rose
// with the serials. Following is not proof (a message buffer reused for
// every reply follows too), so each survivor is written and kept only if
// PID 1's next serial continues from the written value; a survivor that
// fails is put back.
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
	ping := func() (uint64, error) {
		_, _, seen := watch.Last()
		_, err := call(ctx, obj, 5*time.Second, "org.freedesktop.DBus.Peer.Ping")
		if err == nil {
			// The reply reaches this connection and the monitor's
			// separately; the monitor's copy can come later.
			watch.Beyond(ctx, seen, 5*time.Second)
		}
		watch.Quiet(ctx, 150*time.Millisecond)
		last, _, _ := watch.Last()
		return uint64(last), err
	}
	mem, err := os.OpenFile("/proc/1/mem", os.O_RDWR, 0)
	if err != nil {
		return m, fmt.Errorf("opening PID 1's memory (needs root in the node): %w", err)
	}
	defer mem.Close()

	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		m.Candidates = nil
		last, err := ping()
		if err != nil {
			return m, err
		}
		cands, regions, bytes, err := scan(mem, last)
		if err != nil {
			return m, err
		}
		m.Regions, m.Bytes = regions, bytes
		m.Candidates = append(m.Candidates, len(cands))
		// Rounds until one is left, and at least two in any case: a lone
		// first-scan match has not yet shown that it follows the serials.
		for round := 0; (len(cands) > 1 || round < 2) && len(cands) > 0 && round < 12; round++ {
			if last, err = ping(); err != nil {
				return m, err
			}
			cands = follow(cands, reread(mem, cands), last)
			m.Candidates = append(m.Candidates, len(cands))
		}
		for _, c := range cands[:min(len(cands), 4)] {
			ok, err := tryCookie(mem, c, target, watch, ping, &m)
			if err != nil {
				return m, err
			}
			if ok {
				m.Seconds = time.Since(start).Seconds()
				return m, nil
			}
		}
	}
	return m, fmt.Errorf("could not single out PID 1's bus cookie: candidates per round %v, rejected after writing %#x", m.Candidates, m.Rejected)
}

// tryCookie writes target at c and makes PID 1 send: if the serial that
// comes next continues from target, c is the cookie. Otherwise the old
// value goes back, unless PID 1 has since written there itself.
func tryCookie(mem *os.File, c candidate, target uint64, watch *SerialWatcher, ping func() (uint64, error), m *CookieMove) (bool, error) {
	cur, err := readWord(mem, c.addr)
	if err != nil {
		return false, nil
	}
	if err := writeWord(mem, c.addr, target); err != nil {
		return false, fmt.Errorf("writing PID 1's cookie at %#x: %w", c.addr, err)
	}
	// On an affected systemd a reply may never come once the cookie is
	// past the wrap; target leaves a margin, so this one does. Others
	// (the scenario's probe) call PID 1 meanwhile, so the newest serial
	// may be as far past target as the messages seen since the write.
	_, _, before := watch.Last()
	after, _ := ping()
	_, _, seen := watch.Last()
	if continues(target, after, seen-before) {
		m.Address, m.Before, m.Target, m.After = c.addr, cur, target, uint32(after)
		return true, nil
	}
	if now, err := readWord(mem, c.addr); err == nil && now == target {
		if err := writeWord(mem, c.addr, cur); err != nil {
			return false, fmt.Errorf("putting back %d at %#x in PID 1: %w", cur, c.addr, err)
		}
	}
	m.Rejected = append(m.Rejected, c.addr)
	return false, nil
}

// continues reports whether serial, the newest of the sent messages seen
// since PID 1's cookie was set to target, continues from target: past it
// by at most sent and the slack (a message sealed before the write can be
// reported after it). A write that missed the cookie leaves the serials
// where PID 1's own counter was.
func continues(target, serial, sent uint64) bool {
	return sent > 0 && serial-target-1 < sent+serialSlack
}

// near reports whether v is the serial last or a little past it.
func near(v, last uint64) bool { return v-last <= serialSlack }

// follow keeps the candidates whose value rose since the previous round
// and is now near the newest serial: PID 1 sent at least one message in
// between, so its cookie rose; a stale copy did not.
func follow(prev, now []candidate, last uint64) []candidate {
	old := make(map[uint64]uint64, len(prev))
	for _, c := range prev {
		old[c.addr] = c.value
	}
	var out []candidate
	for _, c := range now {
		if before, ok := old[c.addr]; ok && c.value > before && near(c.value, last) {
			out = append(out, c)
		}
	}
	return out
}

// scan returns the 8-byte aligned words in PID 1's private writable
// mappings (heap and anonymous) near the serial last.
func scan(mem *os.File, last uint64) (cands []candidate, regions int, total int64, err error) {
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
				if v := binary.LittleEndian.Uint64(buf[i:]); near(v, last) {
					cands = append(cands, candidate{off + uint64(i), v})
				}
			}
		}
	}
	return cands, regions, total, sc.Err()
}

// reread returns the candidates with the values their addresses hold now.
func reread(mem *os.File, cands []candidate) []candidate {
	out := make([]candidate, 0, len(cands))
	for _, c := range cands {
		if v, err := readWord(mem, c.addr); err == nil {
			out = append(out, candidate{c.addr, v})
		}
	}
	return out
}

func readWord(mem *os.File, addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := mem.ReadAt(b[:], int64(addr)); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

func writeWord(mem *os.File, addr, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := mem.WriteAt(b[:], int64(addr))
	return err
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
