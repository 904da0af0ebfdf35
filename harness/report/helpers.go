package report

import "strings"

// Subject is the component and version a verdict judges.
type Subject struct {
	Component string
	Version   string
	// Build says how the build differs from the release, if it does.
	Build string
	// Commit is the upstream commit of the release, when pinned.
	Commit string
}

// Subject returns what the verdict judges, once it was made.
func (r *Report) Subject() (Subject, bool) {
	if r.Verdict.Component == "" {
		return Subject{}, false
	}
	sub := Subject{Component: r.Verdict.Component, Version: r.Verdict.Version, Build: r.Verdict.Build}
	for _, a := range r.Components {
		if a.Component == sub.Component {
			sub.Commit = a.Commit
		}
	}
	return sub, true
}

// ComponentVersion names the version under test ("runc v1.0.0-rc93",
// "systemd 252.39"), or "" before the verdict named it.
func (r *Report) ComponentVersion() string {
	s, ok := r.Subject()
	if !ok {
		return ""
	}
	name := strings.TrimSpace(s.Component + " " + s.Version)
	if s.Build != "" {
		name += " (" + s.Build + ")"
	}
	return name
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

// orDash shows an unknown value as "-" in every view (the page, the
// glance, JUnit properties).
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
