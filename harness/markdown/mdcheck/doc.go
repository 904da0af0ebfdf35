// Package mdcheck is what tests of Markdown output use to prove that text
// relapse did not write stayed text: Problems parses a document as GitHub
// does (goldmark with the GFM extensions) and lists raw HTML outside code
// other than the writer's own folding tags, table rows whose column count
// differs from their header's, and @mentions outside code; Fill sets every
// string of a value (a report, a bisection) to a hostile text. Only tests
// import it, so goldmark links into no binary.
package mdcheck
