// Package autobisect bisects a relapse the night it is raised.
//
// When the history (package results) flags RELAPSE in a selector row - a
// newly resolved version reproduces a bug its predecessor did not - the
// row holds both ends of a search: the last version (or commit) the row
// passed on and the one it relapsed on. Plans turns each such row into a
// bisection: over releases for a release selector (latest, latest-X.Y,
// maintained), over commits for a git: or source: row, with the cell's
// own parameters, node and repetitions, the other components held at
// what the relapsed night ran. Run runs it (package bisect) under a
// deadline and attaches the result to the relapsed cell in the store
// (results.BisectDir): bisection.json, the bisection's page, each step's
// report, and summary.md, written to be pasted into the upstream tracker.
//
// A row that cannot be bisected gets a bisection.json that says what is
// missing (no night that passed, a cell the matrix file no longer has, a
// last good commit the remote no longer holds, a release the proxy no
// longer serves), so the dashboard says it instead of staying silent.
package autobisect
