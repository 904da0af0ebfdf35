package explore

import (
	"strings"
	"testing"
)

func TestCheckRuncFrom(t *testing.T) {
	if err := checkRuncFrom("the runc containerd v1.6.2 pins (script/setup/runc-version: v1.1.0)"); err != nil {
		t.Errorf("a PinnedRunc line refused: %v", err)
	}
	for _, bad := range []string{"two\nlines", "an \x1b[2J escape", "a \u202e reversal", strings.Repeat("x", 201)} {
		if err := checkRuncFrom(bad); err == nil {
			t.Errorf("checkRuncFrom(%q) accepted it", bad)
		}
	}
}
