// Package matrix is the nightly regression matrix as a file: cells of
// scenario x component versions x node provider x kernel x parameters x
// repetitions, with include and exclude as CI matrices have them.
//
// A matrix file (ci/nightly.yaml) lists groups; each group's list-valued
// dimensions are crossed, exclude entries drop combinations and include
// entries add them. Every cell gets a stable ID from what it runs, so the
// same cell is the same row of history night after night.
//
// What ships is resolved each night (Night.Resolve): a "maintained"
// version becomes one cell per line its component's upstream maintains
// (runc-pipe-hang.runc-maintained-1.5), latest and latest-X.Y are
// resolved against the Go module proxy (listed once per component), and
// git:upstream@<ref> points at the checkout NIGHTLY_SOURCES names (a cell
// without one is skipped, INCONCLUSIVE with the reason). BugGroup and
// BugCells derive a bug's cells from its declaration: both sides of its
// fix, the maintained lines, and upstream main for runc and containerd.
//
// Run executes cells and writes each one's results in the layout Prow
// writes and TestGrid reads: <results>/<cell>/started.json (with the
// relapse commit as repo-commit), finished.json (a result Prow writes:
// SUCCESS, FAILURE or ABORTED; with the versions, patches, kernel,
// provider, bug, affected range and k of n with its interval as string
// metadata) and artifacts/junit_<cell>.xml, beside relapse's own report
// directory. That JUnit is the cell's only file TestGrid takes for one
// (any junit*.xml below the build): the report's junit.xml is moved there,
// not copied, so each run counts once.
// Cells that run in a VM of their own may run in parallel; cells that
// change this host run one at a time.
package matrix
