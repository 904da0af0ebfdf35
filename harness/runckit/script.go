package runckit

import (
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/versions"
)

// ScriptPreamble is the start of a portable reproducer's body, after its
// comments: strict variables, $here and $state in the directory it runs
// in, and $RUNC, either given by the maintainer or built here with the
// same command (patches included) that built the runc relapse ran.
func ScriptPreamble(runc versions.Artifact) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("set -u")
	p("here=$(pwd)")
	p("state=$here/state")
	p("RUNC=${RUNC:-}")
	p("if [ -z \"$RUNC\" ]; then")
	p("  echo \"building runc %s\"", strings.TrimPrefix(runc.Version, "v"))
	p("  %s || exit 2", runc.BuildCommand)
	p("  RUNC=$here/runc")
	p("fi")
	return b.String()
}
