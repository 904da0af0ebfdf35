package systemdcookie

import (
	"embed"

	"github.com/relapse-dev/relapse/harness/reproscript"
)

//go:embed reproduce.sh.tmpl
var scriptFS embed.FS

// script is the portable reproducer's template (reproduce.sh.tmpl).
var script = reproscript.MustParse(scriptFS, "reproduce.sh.tmpl")

// scriptData is what reproduce.sh.tmpl is rendered from.
type scriptData struct {
	reproscript.Base
	// Cookie is where PID 1's cookie is moved: 0xffffffff - Margin;
	// Messages how many replies then push it over.
	Cookie           uint64
	Margin, Messages int
}

// scriptCleanup: the dbus-monitor log the script reads PID 1's serials
// from.
var scriptCleanup = reproscript.Cleanup{Made: []string{"dbus-monitor.log"}}

// cookieTarget is where PID 1's cookie is moved: margin messages before
// the 32-bit serials run out.
func cookieTarget(margin int) uint64 { return uint64(0xffffffff - margin) }

// manualSteps is the portable reproducer, for a throw-away VM with systemd
// as PID 1 only (never a machine that matters: it writes PID 1's memory).
func manualSteps(p settings) (string, error) {
	return script.Render(scriptData{Base: reproscript.Base{Cleanup: scriptCleanup},
		Cookie: cookieTarget(p.margin), Margin: p.margin, Messages: p.margin + 50})
}
