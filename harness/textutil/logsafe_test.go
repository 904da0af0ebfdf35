package textutil

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestPrintableEscapesVisibly(t *testing.T) {
	for in, want := range map[string]string{
		"runc-1.0.0-rc93":        "runc-1.0.0-rc93",
		"a\nb":                   `a\nb`,
		"red \x1b[31mX\x1b[0m":   `red \x1b[31mX\x1b[0m`,
		"tab\there\r":            `tab\there\r`,
		"nul\x00 del\x7f":        `nul\x00 del\x7f`,
		"bad utf8 \xff\xfe":      `bad utf8 \xff\xfe`,
		"c1 \u0085 \u009b":       `c1 \u0085 \u009b`,
		"rlo \u202egnp.exe":      `rlo \u202egnp.exe`,
		"isolate \u2066x\u2069":  `isolate \u2066x\u2069`,
		"line sep \u2028 \u2029": `line sep \u2028 \u2029`,
		"ünïcödé stays, 日本 too":  "ünïcödé stays, 日本 too",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogLineNeutralizesWorkflowCommands(t *testing.T) {
	for in, want := range map[string]string{
		"::error::forged":                 `\::error::forged`,
		"   ::add-mask::x":                `   \::add-mask::x`,
		"\u3000::stop-commands::t":        "\u3000\\::stop-commands::t",
		"cell x: ::error:: in the middle": "cell x: ::error:: in the middle",
		"old ##[error]syntax anywhere":    `old ##\[error]syntax anywhere`,
		"x\n::error::after a newline":     `x\n::error::after a newline`,
		"\t::warning::tab first":          `\t::warning::tab first`,
	} {
		if got := LogLine(in); got != want {
			t.Errorf("LogLine(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := LogText("ok\n::error::x\n\x1b[2J"), "ok\n\\::error::x\n\\x1b[2J"; got != want {
		t.Errorf("LogText = %q, want %q", got, want)
	}
}

func TestLogWriterEscapesAcrossWrites(t *testing.T) {
	var b strings.Builder
	w := NewLogWriter(&b)
	for _, part := range []string{"first line\n:", ":error::split over writes\nES", "C\x1b here\npartial ::x"} {
		if n, err := w.Write([]byte(part)); err != nil || n != len(part) {
			t.Fatalf("Write(%q) = %d, %v", part, n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "first line\n\\::error::split over writes\nESC\\x1b here\npartial ::x"
	if b.String() != want {
		t.Errorf("LogWriter wrote %q, want %q", b.String(), want)
	}
}

// checkLogSafe fails when line holds something a CI log or its runner
// would act on.
func checkLogSafe(t *testing.T, in, line string) {
	t.Helper()
	if !utf8.ValidString(line) {
		t.Fatalf("LogLine(%q) = %q: not UTF-8", in, line)
	}
	for _, r := range line {
		if needsEscape(r) {
			t.Fatalf("LogLine(%q) = %q keeps %U", in, line, r)
		}
	}
	if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") {
		t.Fatalf("LogLine(%q) = %q starts a workflow command", in, line)
	}
	if strings.Contains(line, "##[") {
		t.Fatalf("LogLine(%q) = %q holds ##[", in, line)
	}
}

func FuzzLogLine(f *testing.F) {
	for _, s := range []string{"", "::error::x", " \t::x", "##[group]", "\x1b[31m", "a\nb\r\n", "\xff", "\u202e", "\u0085::x", "#\x00#["} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkLogSafe(t, s, LogLine(s))
		if p := Printable(s); strings.ContainsAny(p, "\n\r\x1b") {
			t.Fatalf("Printable(%q) = %q keeps a control", s, p)
		}
		for _, l := range strings.Split(LogText(s), "\n") {
			checkLogSafe(t, s, l)
		}
	})
}
