package markdown

import (
	"html"
	"regexp"
	"strings"
	"unicode"
)

// zwj goes between "@" and a name: GitHub then sees no mention (and
// notifies nobody) while the text reads the same.
const zwj = "\u200d"

// mention is an "@" that GitHub would take for a mention: at the start or
// after a character that cannot be part of a word or an e-mail address.
var mention = regexp.MustCompile(`(^|[^A-Za-z0-9_.+-])@([A-Za-z0-9])`)

// inlineSpecial are the characters that open or close an inline construct
// anywhere in a line: emphasis, strikethrough, code, links and images, raw
// HTML and autolinks, entities, table cells, GitHub's math, and the
// backslash itself.
const inlineSpecial = "\\`*_~[]<>&|$"

// blockStart matches what makes a line start a block: a heading, a list
// item, a thematic break or setext underline, a quote, an ordered list
// item. It is escaped when the text begins with it, since the text may
// begin a line or a list item ("2.5.4" and "-rc93" do not match).
var blockStart = regexp.MustCompile(`^(?:#{1,6}(?: |$)|[-+=](?: |$|[-+=])|>|\d{1,9}[.)](?: |$))`)

// OneLine collapses every run of white space (newlines too) into one space
// and drops other control characters, so a value stays on its line.
func OneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Text is s on one line, escaped for running text and for a GFM table
// cell.
func Text(s string) string {
	s = OneLine(s)
	var b strings.Builder
	if loc := blockStart.FindStringIndex(s); loc != nil {
		// "# ", "- ", "1. " and the like: a backslash before the marker's
		// punctuation makes it text.
		marker := strings.TrimRight(s[:loc[1]], " ")
		i := strings.LastIndexFunc(marker, func(r rune) bool { return !unicode.IsDigit(r) })
		b.WriteString(marker[:max(i, 0)] + `\` + marker[max(i, 0):])
		s = s[len(marker):]
	}
	runes := []rune(s)
	for i, r := range runes {
		if r < 128 && strings.ContainsRune(inlineSpecial, r) && !intraword(runes, i) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return noMention(b.String())
}

// Code is s on one line as a code span: shown verbatim, whatever backticks
// it holds. An empty s gives "".
func Code(s string) string { return code(OneLine(s)) }

// CellCode is Code for a GFM table cell: the table splits cells at every
// unescaped "|", code spans included, and takes "\|" back to "|".
func CellCode(s string) string {
	return strings.ReplaceAll(Code(s), "|", `\|`)
}

func code(s string) string {
	if s == "" {
		return ""
	}
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ")) {
		// One space on each side is stripped again when rendered.
		s = " " + s + " "
	}
	return ticks + s + ticks
}

// Fence is text as a fenced code block with the info string lang ("" for
// none): a fence longer than any backtick run in text, so no line of it
// can close the block. It ends with a newline.
func Fence(lang, text string) string {
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	text = strings.TrimRight(text, "\n")
	return fence + OneLine(lang) + "\n" + text + "\n" + fence + "\n"
}

// HTML is s on one line for the inside of a raw HTML element the Markdown
// writes itself (<summary>, <sub>): HTML-escaped, mentions neutralized.
func HTML(s string) string {
	return noMention(html.EscapeString(OneLine(s)))
}

// intraword says whether runes[i] is an "_" between two letters or
// digits ("x86_64"), which cannot open or close emphasis.
func intraword(runes []rune, i int) bool {
	isWord := func(j int) bool {
		return j >= 0 && j < len(runes) && (unicode.IsLetter(runes[j]) || unicode.IsDigit(runes[j]))
	}
	return runes[i] == '_' && isWord(i-1) && isWord(i+1)
}

func noMention(s string) string {
	return mention.ReplaceAllString(s, "${1}@"+zwj+"${2}")
}

func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
