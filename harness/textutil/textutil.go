package textutil

import (
	"strconv"
	"strings"
)

// LastLines keeps the last n lines of s (trimmed), with a "..." line in
// front when something was cut.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// FirstLine is s up to its first newline.
func FirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ShellQuote joins argv into one line a POSIX shell parses back to argv:
// words made only of safe characters stay bare, everything else is
// single-quoted.
func ShellQuote(argv ...string) string { return shellJoin(argv, false) }

// ShellQuoteVars is ShellQuote for lines in a script that sets variables:
// a word "$name" or "$name/rest" is kept in double quotes so that the shell
// expands it (build commands write to "$out/runc").
func ShellQuoteVars(argv ...string) string { return shellJoin(argv, true) }

func shellJoin(argv []string, vars bool) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		if vars && isShellVariableWord(a) {
			quoted[i] = `"` + a + `"`
			continue
		}
		quoted[i] = quoteArg(a)
		// A bare NAME=value first word is an environment assignment to the shell.
		if i == 0 && quoted[i] == a && strings.Contains(a, "=") {
			quoted[i] = "'" + a + "'"
		}
	}
	return strings.Join(quoted, " ")
}

func quoteArg(a string) string {
	if a == "" {
		return "''"
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return a
}

// isShellVariableWord is "$name" or "$name/rest" with a plain rest: a word
// meant to be expanded by the shell that runs the line.
func isShellVariableWord(a string) bool {
	if !strings.HasPrefix(a, "$") || len(a) < 2 {
		return false
	}
	name, rest, _ := strings.Cut(a[1:], "/")
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return name != "" && !strings.ContainsAny(rest, "'\"$`\\ \t\n")
}

// Article is the indefinite article for a number said aloud: "an" for
// those said with a leading vowel (8, 11, 18, 80, 8192, 11000), else "a".
func Article(n int) string {
	d := strconv.Itoa(n)
	if d[0] == '8' || (len(d)%3 == 2 && (strings.HasPrefix(d, "11") || strings.HasPrefix(d, "18"))) {
		return "an"
	}
	return "a"
}
