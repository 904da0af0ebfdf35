// Package textutil holds the small text helpers every layer needs: the end
// of a long output for an error or a report, and quoting argv as a POSIX
// shell line a maintainer can paste. It imports nothing of relapse's, so
// any package may use it.
package textutil
