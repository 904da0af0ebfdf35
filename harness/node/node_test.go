package node

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRunErrorMessage(t *testing.T) {
	var lines []string
	for i := 1; i <= 25; i++ {
		lines = append(lines, fmt.Sprintf("line%d", i))
	}
	exit := errors.New("exit status 1")
	tests := []struct {
		name   string
		output string
		want   string
	}{
		{"no output", "", "command failed on node local: runc --root /r start c1: exit status 1"},
		{"whitespace output", "\n  \n", "command failed on node local: runc --root /r start c1: exit status 1"},
		{"short output", "level=error msg=\"container not running\"\n",
			"command failed on node local: runc --root /r start c1: exit status 1\noutput:\nlevel=error msg=\"container not running\""},
		{"long output keeps the last 20 lines", strings.Join(lines, "\n") + "\n",
			"command failed on node local: runc --root /r start c1: exit status 1\noutput:\n...\n" + strings.Join(lines[5:], "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &RunError{Node: "local", Command: "runc --root /r start c1", Output: []byte(tt.output), Err: exit}
			if got := e.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
			if !errors.Is(e, exit) {
				t.Error("errors.Is(RunError, Err) = false")
			}
		})
	}
}

func TestSysctlPath(t *testing.T) {
	tests := []struct{ key, want string }{
		{"fs.pipe-user-pages-soft", "/proc/sys/fs/pipe-user-pages-soft"},
		{"fs.pipe-max-size", "/proc/sys/fs/pipe-max-size"},
		{"net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"},
	}
	for _, tt := range tests {
		if got := SysctlPath(tt.key); got != tt.want {
			t.Errorf("SysctlPath(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
