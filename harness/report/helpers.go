package report

import (
	"strings"

	"github.com/relapse-dev/relapse/harness/versions"
)

// Subject returns the build of the component the bug is about
// (Bug.Component), or the first component when none has that name.
func (r *Report) Subject() (versions.Artifact, bool) {
	for _, a := range r.Components {
		if a.Component == r.Bug.Component {
			return a, true
		}
	}
	if len(r.Components) > 0 {
		return r.Components[0], true
	}
	return versions.Artifact{}, false
}

// ComponentVersion names the version under test ("runc v1.0.0-rc93").
func (r *Report) ComponentVersion() string {
	a, ok := r.Subject()
	if !ok {
		return ""
	}
	v := a.Version
	if v == "" {
		v = a.Requested
	}
	return strings.TrimSpace(a.Component + " " + v)
}

// Unrestored returns the changes to the node that were not put back.
func (r *Report) Unrestored() []Change {
	var out []Change
	for _, c := range r.Changes {
		if !c.Restored && !c.Disposable {
			out = append(out, c)
		}
	}
	return out
}
