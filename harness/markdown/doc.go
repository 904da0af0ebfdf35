// Package markdown puts text relapse did not write (what a node, a daemon,
// a process, a file name or a user supplied) into GitHub-flavoured
// Markdown so that it reads as the text it is: escaped inline (Text, in
// running text and table cells alike), as a code span (Code, CellCode), as
// a fenced block (Fence), or inside raw HTML (HTML). Nothing it returns
// can open an HTML element, break a table row, end a fence, start a block
// or @mention a GitHub user. It imports nothing of relapse's.
package markdown
