// Package report turns an experiment's record into files in
// reports/<run-id>/: report.json (the source of truth), report.html (one
// self-contained page to attach to an upstream issue) and junit.xml (for CI).
package report
