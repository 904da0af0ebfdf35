package textutil

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestLastLines(t *testing.T) {
	if got := LastLines("a\nb\nc\n", 2); got != "...\nb\nc" {
		t.Errorf("LastLines cut = %q", got)
	}
	if got := LastLines("a\nb", 5); got != "a\nb" {
		t.Errorf("LastLines short = %q", got)
	}
	if got := FirstLine("x\ny"); got != "x" {
		t.Errorf("FirstLine = %q", got)
	}
}

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

func TestShellQuoteQuotesAnAssignmentLikeFirstWord(t *testing.T) {
	// Unquoted, the shell would read a=b as an environment assignment.
	if got := ShellQuote("a=b", "echo", "x=y"); got != "'a=b' echo x=y" {
		t.Fatalf("ShellQuote = %q, want %q", got, "'a=b' echo x=y")
	}
}

func TestShellQuoteVarsKeepsVariablesExpandable(t *testing.T) {
	got := ShellQuoteVars("build", "-ldflags", "-X a=b c", "-o", "$out/x", "it's", "$HOME x")
	want := `build -ldflags '-X a=b c' -o "$out/x" 'it'\''s' '$HOME x'`
	if got != want {
		t.Errorf("ShellQuoteVars = %s, want %s", got, want)
	}
}

func TestArticle(t *testing.T) {
	for n, want := range map[int]string{8192: "an", 4096: "a", 65536: "a", 11: "an", 18000: "an", 1100: "a", 80: "an", 800: "an"} {
		if got := Article(n); got != want {
			t.Errorf("Article(%d) = %q, want %q", n, got, want)
		}
	}
}
