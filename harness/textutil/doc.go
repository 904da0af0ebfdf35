// Package textutil holds the small text helpers every layer needs: the end
// of a long output for an error or a report, quoting argv as a POSIX shell
// line a maintainer can paste, and making untrusted text safe to print to a
// CI log (Printable, LogLine, LogText, LogWriter). It imports nothing of
// relapse's, so any package may use it.
package textutil
