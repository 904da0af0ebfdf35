// Package report owns the record of an experiment and its views. The
// record types live here - the bug (as upstream names it), findings with
// their evidence, the verdict with the component and version it judges,
// and what the bug's affected range predicts (Expect) - so every layer
// records into one vocabulary. Write turns a record into files in
// reports/<run-id>/: report.json (the source of truth), report.html (one
// self-contained page to attach to an upstream issue) and junit.xml (for CI).
package report
