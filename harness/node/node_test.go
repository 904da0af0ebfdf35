package node

import (
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestShellQuote(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"safe chars are left alone", []string{"runc", "--root", "/run/relapse/runc-1", "--log-format=json", "a-b_c.d:e,f+g@h%i"},
			"runc --root /run/relapse/runc-1 --log-format=json a-b_c.d:e,f+g@h%i"},
		{"spaces", []string{"sh", "-c", "sleep 30 & sleep 30"}, "sh -c 'sleep 30 & sleep 30'"},
		{"single quote", []string{"echo", "it's"}, `echo 'it'\''s'`},
		{"double quote", []string{"echo", `say "hi"`}, `echo 'say "hi"'`},
		{"empty string", []string{"printf", ""}, "printf ''"},
		{"shell metacharacters", []string{"echo", "$HOME", "a;b", "*", "~"}, "echo '$HOME' 'a;b' '*' '~'"},
		{"newline and tab", []string{"x\ny", "a\tb"}, "'x\ny' 'a\tb'"},
		{"non-ASCII", []string{"é"}, "'é'"},
		{"no arguments", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShellQuote(tt.argv...); got != tt.want {
				t.Errorf("ShellQuote(%q) = %s, want %s", tt.argv, got, tt.want)
			}
		})
	}
}

// TestShellQuoteRoundTripsThroughSh has sh parse the quoted line back.
func TestShellQuoteRoundTripsThroughSh(t *testing.T) {
	argv := []string{"plain", "two words", "it's", `"dq"`, "", "$HOME", "a\\b", "x\ny", "'", "''", "%s"}
	out, err := exec.Command("sh", "-c", "printf '%s\\0' "+ShellQuote(argv...)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !reflect.DeepEqual(got, argv) {
		t.Errorf("sh parsed %q, want %q", got, argv)
	}
}

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

func TestShellQuoteQuotesAnAssignmentLikeFirstWord(t *testing.T) {
	// Unquoted, the shell would read a=b as an environment assignment.
	if got := ShellQuote("a=b", "echo", "x=y"); got != "'a=b' echo x=y" {
		t.Fatalf("ShellQuote = %q, want %q", got, "'a=b' echo x=y")
	}
}
