package textutil

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text from a cell, a node or a daemon ends up in CI logs, where a control
// character can rewrite the terminal (ESC), fake a line of its own (CR, a
// newline inside a field) or reorder what is shown (bidi overrides), and
// where GitHub's runner reads a line that starts with "::" (after leading
// space) or holds "##[" anywhere as a workflow command: ::error:: forges an
// annotation, ::add-mask:: or ::stop-commands:: hide what follows.
// Printable, LogLine, LogText and LogWriter turn such text into something
// a log shows as written and nothing obeys.

// Printable escapes, visibly, every character of s a log could act on:
// C0 and C1 controls (newline and tab too), DEL, invalid UTF-8, and the
// Unicode format characters that reorder or break lines (bidi embeddings,
// overrides and isolates, line and paragraph separators). Use it for a
// field put inside a line: the result is one line.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if needsEscape(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && needsEscape(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape: controls, and the format characters that change how a line
// reads or where it ends.
func needsEscape(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true // invalid UTF-8 decodes to it; a genuine U+FFFD is escaped too
	case unicode.IsControl(r):
		return true
	case r == 0x2028 || r == 0x2029: // line, paragraph separator
		return true
	case r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x061c:
		return true // bidi marks, embeddings, overrides, isolates
	}
	return false
}

// LogLine is Printable(line) made inert for a CI runner: a line whose
// first non-space text is "::" gets a backslash in front, and "##[" (the
// older command syntax, read anywhere in a line) becomes `##\[`.
func LogLine(line string) string {
	line = strings.ReplaceAll(Printable(line), "##[", `##\[`)
	rest := strings.TrimLeftFunc(line, unicode.IsSpace)
	if strings.HasPrefix(rest, "::") {
		return line[:len(line)-len(rest)] + `\` + rest
	}
	return line
}

// LogText is LogLine for each line of text: its newlines stay line breaks,
// everything else is escaped.
func LogText(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = LogLine(l)
	}
	return strings.Join(lines, "\n")
}

// LogWriter passes what is written to it on, line by line, through
// LogLine: put it in front of stdout or stderr of a command whose output
// goes to a CI log. It holds an unfinished line until its newline or
// Flush.
type LogWriter struct {
	w    io.Writer
	line []byte
}

// NewLogWriter returns a LogWriter writing to w.
func NewLogWriter(w io.Writer) *LogWriter { return &LogWriter{w: w} }

// Write escapes each complete line of p (with what earlier writes left)
// and writes it with its newline.
func (l *LogWriter) Write(p []byte) (int, error) {
	l.line = append(l.line, p...)
	for {
		i := bytes.IndexByte(l.line, '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := io.WriteString(l.w, LogLine(string(l.line[:i]))+"\n"); err != nil {
			return len(p), err
		}
		l.line = l.line[i+1:]
	}
}

// Flush writes the unfinished line, if any, escaped and without a newline.
func (l *LogWriter) Flush() error {
	if len(l.line) == 0 {
		return nil
	}
	_, err := io.WriteString(l.w, LogLine(string(l.line)))
	l.line = nil
	return err
}
