package markdown_test

import (
	"bytes"
	"html"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"

	"github.com/relapse-dev/relapse/harness/markdown"
	"github.com/relapse-dev/relapse/harness/markdown/mdcheck"
)

// document uses each helper where a writer would: running text, a list
// item, a table (text and code cells), a code span, a fence and a
// <details> summary.
func document(s string) string {
	return "Reason: " + markdown.Text(s) + "\n\n" +
		"- " + markdown.Text(s) + "\n- **" + markdown.Text(s) + "**: " + markdown.Code(s) + "\n\n" +
		"| a | b | c |\n| --- | --- | --- |\n| " + markdown.Text(s) + " | " + markdown.CellCode(s) + " | x |\n\n" +
		"<details><summary>" + markdown.HTML(s) + "</summary>\n\n" + markdown.Fence("text", s) + "\n</details>\n\n" +
		"<sub>run " + markdown.Code(s) + ", " + markdown.Text(s) + "</sub>\n"
}

func render(t *testing.T, md string) string {
	t.Helper()
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	if err := gm.Convert([]byte(md), &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestHostileTextStaysText(t *testing.T) {
	for _, s := range []string{mdcheck.Hostile, "`", "``", " ` ", "|", "\\", "\\|", "-", "# x", "1. x", "12) x", "---", "===", "- x", "+ x", "> x", "## x", "@x", "a@b.c", "x@y", "+", "=", ">", "<", "&amp;", "\x1b[31mred\x00"} {
		md := document(s)
		for _, p := range mdcheck.Problems(md) {
			t.Errorf("%q: %s\n%s", s, p, md)
		}
	}
}

// What the helpers escape still reads as the original text once rendered
// (on one line, without control characters; a mention with a zero-width
// joiner after its "@").
func TestEscapedTextRendersAsTheOriginal(t *testing.T) {
	for _, s := range []string{"runc 1.0.0-rc93 (patched: revert-2871.patch)", "a|b `c` *d* _e_ <f> & [g](h) ~i~ $j$ \\k", "# not a heading", "- not an item", "3. not a list", "mail@example.org"} {
		want := html.EscapeString(markdown.OneLine(s))
		for name, got := range map[string]string{
			"text":     render(t, "x "+markdown.Text(s)+"\n"),
			"code":     render(t, "x "+markdown.Code(s)+"\n"),
			"cell":     render(t, "| a |\n| --- |\n| "+markdown.Text(s)+" |\n"),
			"cellcode": render(t, "| a |\n| --- |\n| "+markdown.CellCode(s)+" |\n"),
			"fence":    render(t, markdown.Fence("", s)),
			"html":     render(t, "<p>"+markdown.HTML(s)+"</p>\n"),
		} {
			got = strings.ReplaceAll(got, "&quot;", "\"")
			if !strings.Contains(got, strings.ReplaceAll(want, "&#34;", "\"")) && !strings.Contains(got, strings.ReplaceAll(strings.ReplaceAll(want, "&#34;", "\""), "&#39;", "'")) {
				t.Errorf("%s of %q renders as %q, which lacks %q", name, s, got, want)
			}
		}
	}
	if got := markdown.Text("ping @octocat and @org/team, not mail@example.org"); strings.Count(got, "@\u200d") != 2 || !strings.Contains(got, "mail@example.org") {
		t.Errorf("Text neutralized the wrong mentions: %q", got)
	}
}

// Text leaves what cannot start a construct alone, so the raw summary
// stays readable: versions, architectures, dashes inside words.
func TestTextLeavesPlainTextPlain(t *testing.T) {
	for _, s := range []string{"libseccomp 2.5.4 on x86_64", "v1.0.0-rc93", "-rc93", "go1.26.8 linux/amd64", "16384 → 1 → 16384", "mail@example.org"} {
		if got := markdown.Text(s); got != s {
			t.Errorf("Text(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestFenceIsLongerThanAnyBacktickRun(t *testing.T) {
	got := markdown.Fence("sh", "echo ```` x\n`````\n")
	if !strings.HasPrefix(got, "``````sh\n") || !strings.HasSuffix(got, "\n``````\n") {
		t.Errorf("Fence = %q, want a fence of six backticks", got)
	}
}

// The check itself finds what an unescaped writer lets through.
func TestProblemsCatchesUnescapedText(t *testing.T) {
	raw := "| a | b |\n| --- | --- |\n| " + markdown.OneLine(mdcheck.Hostile) + " | y |\n\nping @octocat\n"
	got := strings.Join(mdcheck.Problems(raw), "\n")
	for _, want := range []string{`raw HTML inline outside code: "<script>"`, `"<img src=x onerror=alert(1)>"`, "a mention outside code", "cell separators under a header with 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("Problems lacks %q:\n%s", want, got)
		}
	}
}
