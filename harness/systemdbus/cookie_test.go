package systemdbus

import (
	"reflect"
	"testing"
)

func TestFollowKeepsWhatRoseWithTheSerials(t *testing.T) {
	prev := []candidate{
		{0x10, 170}, // the cookie: the monitor saw 170
		{0x18, 170}, // a copy in a freed message buffer: stays
		{0x20, 171}, // the cookie of a connection that sent once more, ahead of the monitor
		{0x28, 172}, // a counter that rose far past the serials
		{0x30, 170}, // unreadable now
	}
	now := []candidate{{0x10, 173}, {0x18, 170}, {0x20, 175}, {0x28, 400}}
	got := follow(prev, now, 172)
	want := []candidate{{0x10, 173}, {0x20, 175}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("follow = %v, want %v", got, want)
	}
}

func TestFollowDropsAValueBehindTheSerial(t *testing.T) {
	// A buffer that held serial 171 and now holds 172 while PID 1 already
	// sent 175 is behind: the cookie is never behind the monitor.
	if got := follow([]candidate{{0x10, 171}}, []candidate{{0x10, 172}}, 175); len(got) != 0 {
		t.Fatalf("follow = %v, want nothing", got)
	}
}

func TestContinuesAcceptsOnlySerialsJustPastTheTarget(t *testing.T) {
	target := uint64(0xffffffff - 300)
	for _, tc := range []struct {
		serial, sent uint64
		want         bool
	}{
		{target + 1, 1, true},
		{target + serialSlack, 1, true},
		{target + 12, 6, true},               // a probe called PID 1 five times meanwhile
		{target + 1, 0, false},               // nothing was seen since the write
		{target, 1, false},                   // sealed before the write
		{target + serialSlack + 2, 1, false}, // too far for one message
		{174, 3, false},                      // the write missed: PID 1 went on from its own cookie
	} {
		if got := continues(target, tc.serial, tc.sent); got != tc.want {
			t.Errorf("continues(%d, %d, %d) = %v, want %v", target, tc.serial, tc.sent, got, tc.want)
		}
	}
}
