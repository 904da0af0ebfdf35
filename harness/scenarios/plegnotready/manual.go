package plegnotready

import (
	"embed"
	"time"

	"github.com/relapse-dev/relapse/harness/reproscript"
)

//go:embed reproduce.sh.tmpl
var scriptFS embed.FS

// script is the portable reproducer's template (reproduce.sh.tmpl).
var script = reproscript.MustParse(scriptFS, "reproduce.sh.tmpl")

// scriptData is what reproduce.sh.tmpl is rendered from.
type scriptData struct {
	reproscript.Base
	// Setup is the cluster's own recipe (shell comments), when it has one.
	Setup, Version, Methods string
	Stall, Recover          time.Duration
}

// scriptCleanup: the log of the node's Ready condition the script decides
// from.
var scriptCleanup = reproscript.Cleanup{Made: []string{"node-ready.log"}}

// manualSteps is the portable reproducer. The stall needs something
// between kubelet and the runtime that holds only the relist calls;
// relapse's CRI proxy is that thing. Without relapse the script stalls
// the whole runtime instead (SIGSTOP), and always continues it on exit.
func manualSteps(setup, version, methods string, stall, recoverIn time.Duration) (string, error) {
	return script.Render(scriptData{Base: reproscript.Base{Cleanup: scriptCleanup}, Setup: setup, Version: version,
		Methods: methods, Stall: stall, Recover: recoverIn})
}
