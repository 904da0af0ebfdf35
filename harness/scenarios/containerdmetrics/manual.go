package containerdmetrics

import (
	"embed"

	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/reproscript"
	"github.com/relapse-dev/relapse/harness/versions"
)

//go:embed reproduce.sh.tmpl
var scriptFS embed.FS

// script is the portable reproducer's template (reproduce.sh.tmpl).
var script = reproscript.MustParse(scriptFS, "reproduce.sh.tmpl")

// scriptData is what reproduce.sh.tmpl is rendered from.
type scriptData struct {
	reproscript.Base
	Containerd, Runc             versions.Artifact
	Scrapers, Concurrency, Tasks int
	MetricsAddress               string
	// Config is containerd's config.toml in the layout of the version
	// relapse ran, its paths under the script's directory ($here).
	Config        string
	ConfigVersion int
}

// scriptCleanup is what the script makes: containerd's config, root,
// state, sockets and log, the rootfs, the create results and the goroutine
// dump; the network namespace containerd runs in and the cgroups of its
// namespace (both named with the script's pid, so two runs stay apart).
var scriptCleanup = reproscript.Cleanup{
	Made: []string{"rootfs", "root", "state", "config.toml", "c.sock", "c.sock.ttrpc", "debug.sock", "exits",
		"containerd.log", "containerd-goroutines.txt"},
	Cgroup: "repro6772-$$", Netns: "ctrd6772-$$"}

// manualSteps is the portable reproducer: a POSIX shell script that runs
// alone in an empty directory as root. It builds (or takes) containerd and
// runc, makes the root filesystem from the machine's own sh and sleep,
// runs containerd in a network namespace of its own, scrapes its metrics
// while creating tasks, decides from /proc and the goroutine dump, and on
// any exit (the shared prologue) kills every process it started - the
// shims and the containers' inits included - and removes what it made.
func manualSteps(ctrd, runc versions.Artifact, configVersion, scrapers, concurrency, tasks int) (string, error) {
	config, err := daemons.ContainerdConfig{Version: configVersion, Root: "$here/root", State: "$here/state", GRPC: "$here/c.sock",
		Debug: "$here/debug.sock", Metrics: metricsAddress}.Render()
	if err != nil {
		return "", err
	}
	return script.Render(scriptData{Base: reproscript.Base{Cleanup: scriptCleanup}, Containerd: ctrd, Runc: runc,
		Scrapers: scrapers, Concurrency: concurrency, Tasks: tasks, MetricsAddress: metricsAddress, Config: config, ConfigVersion: configVersion})
}
