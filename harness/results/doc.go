// Package results keeps the nightly matrix's history and says what changed.
//
// A store is append-only: <store>/<night>/<cell>/ holds what one cell
// wrote one night (Prow's started.json, finished.json, artifacts/), merged
// from as many machines and shards as ran it. Those machines are not
// trusted: a cell is its directory (ReadCell: the name is the cell ID and
// the metadata must agree; files are read without following links, JSON
// strictly, paths it names must stay inside it), and Merge stages a whole
// night inside the store, checks every copied cell, and renames the night
// into place, so a refused merge leaves the store as it was. Compare reads
// every night, in the order the nights ran (their cells' start times; run-9
// before run-10), and gives each row its flags, TestGrid-style. A row is a
// cell, the same experiment every night; a cell whose version a selector
// chose (latest, latest-1.4, maintained) is a row per bug, component and
// selector ("runc latest", "containerd maintained 2.3"), showing what the
// selector resolved to each night and marking the nights it changed.
//
//   - RELAPSE: the latest night reproduced the bug on a version at or after
//     its fix (outside the affected range and not before it), or, in a
//     selector row, on a newly resolved version where the version before
//     it did not reproduce;
//   - NEWLY FIXED: it reproduced before and not now, on a different build;
//   - FLAKY: the verdict changed between nights on the same build;
//   - STALE: the row was not run in the latest night;
//   - CANARY MISSED: a canary (a cell whose patch reverts its bug's own
//     fix, marked so or not) did not come out as a relapse, or did not run
//     in a latest night that ran cells of its speed: the night cannot show
//     it would catch one;
//   - FAILING: the latest night's result contradicts the affected range or
//     left the host changed, with the night the failures began (first
//     fail) and the last night it passed.
//
// A relapse in a selector row is bisected where it is raised (package
// autobisect); the result is attached to the cell (artifacts/bisect/,
// read back by ReadCell as strictly as the cell's own files), and the
// dashboard shows its first bad version or commit, or what it lacked,
// with links to its page and to summary.md for the upstream tracker.
//
// Dashboard renders bugs x versions x nights as one self-contained page;
// Publish writes it with every report it links to, as a site to serve,
// and the nights as Prow's jobs for TestGrid and Spyglass (WriteLogs:
// logs/<cell>/<build>/ with numeric builds growing night by night, and
// logs/<cell>/latest-build.txt).
package results
