package extrasandbox

import (
	"embed"
	"time"

	"github.com/relapse-dev/relapse/harness/cluster"
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
	Setup, Version, Image     string
	Jobs                      int
	Every, Settle, JobTimeout time.Duration
}

// scriptCleanup: the Job manifests the script keeps, so that its cleanup
// deletes exactly the Jobs it made.
var scriptCleanup = reproscript.Cleanup{Made: []string{"jobs.yaml"}}

// manualSteps is the portable reproducer: a POSIX shell script a
// maintainer runs as root on a node of the affected version, which creates
// the Jobs, waits for them and counts second sandboxes with crictl.
func manualSteps(setup, version string, jobs int, every, settle, jobTimeout time.Duration) (string, error) {
	return script.Render(scriptData{Base: reproscript.Base{Cleanup: scriptCleanup}, Setup: setup, Version: version,
		Image: cluster.BusyboxImage, Jobs: jobs, Every: every, Settle: settle, JobTimeout: jobTimeout})
}
