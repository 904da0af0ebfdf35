package mdcheck

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Hostile is text that breaks Markdown it is pasted into unescaped: HTML
// a browser would run, table cell separators, backticks of every length,
// a fence, a heading, a list item, a mention, an entity, a link and the
// end of a <details> block, over several lines.
const Hostile = "<script>alert(1)</script> <img src=x onerror=alert(1)> a|b || `one` ``two`` ```three``` @mention\n" +
	"# heading\n- item\n1. first\n```\n</details></summary> *em* _em_ ~~del~~ [link](javascript:alert(1)) &lt;b&gt; \\| \\\n" +
	"@octocat/team \r| x | y |\n> quote\n\n<!-- comment --> $x$"

// AllowedTags are the raw HTML tags a writer may emit itself, bare.
var AllowedTags = []string{"<details>", "</details>", "<summary>", "</summary>", "<sub>", "</sub>"}

var (
	tag     = regexp.MustCompile(`<[^<>]*>?`)
	mention = regexp.MustCompile(`(^|[^A-Za-z0-9_.+-])@[A-Za-z0-9]`)
)

// Problems parses source as GitHub-flavoured Markdown and lists what a
// writer let through: raw HTML (inline or block) other than AllowedTags,
// @mentions in text outside code, and tables whose rows have another
// number of cells than their header. No problems gives nil.
func Problems(source string) []string {
	src := []byte(source)
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(src))
	var problems []string
	// Text outside code, one string per block, so a mention split over
	// several text nodes is still seen.
	var prose strings.Builder
	flush := func() {
		if m := mention.FindString(prose.String()); m != "" {
			problems = append(problems, fmt.Sprintf("a mention outside code: %q in %q", m, prose.String()))
		}
		prose.Reset()
	}
	checkHTML := func(kind, raw string) {
		for _, t := range tag.FindAllString(raw, -1) {
			allowed := false
			for _, a := range AllowedTags {
				allowed = allowed || t == a
			}
			if !allowed {
				problems = append(problems, fmt.Sprintf("raw HTML %s outside code: %q", kind, t))
			}
		}
		prose.WriteString(tag.ReplaceAllString(raw, " "))
	}
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if n.Type() == ast.TypeBlock && !entering {
			flush()
		}
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.CodeSpan, *ast.FencedCodeBlock, *ast.CodeBlock:
			prose.WriteString(" ")
			return ast.WalkSkipChildren, nil
		case *ast.RawHTML:
			checkHTML("inline", string(segments(n.Segments, src)))
		case *ast.HTMLBlock:
			raw := segments(n.Lines(), src)
			if n.HasClosure() {
				raw = append(raw, n.ClosureLine.Value(src)...)
			}
			checkHTML("block", string(raw))
		case *ast.Text:
			prose.Write(n.Segment.Value(src))
			if n.SoftLineBreak() || n.HardLineBreak() {
				prose.WriteString(" ")
			}
		case *ast.String:
			prose.Write(n.Value)
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		problems = append(problems, "walking the document: "+err.Error())
	}
	return append(problems, tableProblems(source)...)
}

func segments(s *text.Segments, src []byte) []byte {
	var b bytes.Buffer
	for i := 0; i < s.Len(); i++ {
		seg := s.At(i)
		b.Write(seg.Value(src))
	}
	return b.Bytes()
}

// tableProblems reads the source line by line, outside fences, and checks
// that every row of a table has as many cell separators as its header.
func tableProblems(source string) []string {
	var problems []string
	fence, header := "", -1
	for i, line := range strings.Split(source, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`") == "" {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
			header = -1
			continue
		}
		if !strings.HasPrefix(trimmed, "|") {
			header = -1
			continue
		}
		n := separators(trimmed)
		if header < 0 {
			header = n
			continue
		}
		if n != header {
			problems = append(problems, fmt.Sprintf("line %d: a table row with %d cell separators under a header with %d: %q", i+1, n, header, line))
		}
	}
	return problems
}

// separators counts the "|" that split a row: GFM (cmark-gfm, and
// goldmark alike) takes every "|" right after a backslash for part of the
// cell, whatever precedes that backslash.
func separators(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '|' && (i == 0 || line[i-1] != '\\') {
			n++
		}
	}
	return n
}

// Fill sets every settable string in the value v points to (struct
// fields, slice elements, map keys and values, through pointers) to value,
// gives an empty slice one element and a nil pointer or map something to
// hold, and sets numbers to 1, so every field a writer might print is
// there and hostile.
func Fill(v any, value string) {
	fill(reflect.ValueOf(v).Elem(), value, 0)
}

func fill(v reflect.Value, value string, depth int) {
	if depth > 12 || !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), value, depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), value, depth+1)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		}
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), value, depth+1)
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		fill(elem, value, depth+1)
		key := reflect.New(v.Type().Key()).Elem()
		key.SetString(value)
		v.SetMapIndex(key, elem)
	}
}
