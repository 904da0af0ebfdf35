// Package report owns the record of an experiment and its views. The
// record types live here - the bug (as upstream names it), findings with
// their evidence, the verdict with the component and version it judges,
// and what the bug's affected range predicts (Expect) - so every layer
// records into one vocabulary. Write turns a record into files in
// reports/<run-id>/: report.json (the source of truth), report.html (one
// self-contained page to attach to an upstream issue), summary.md (the
// issue-ready Markdown), junit.xml (for CI) and the bundle.
//
// The record: model.go (Report and its parts), finding.go, expect.go,
// rate.go, glance.go (the decisive facts), helpers.go; write.go and
// bundle.go store it. The views read it and never change it: html.go
// with html_chart.go and html_findings.go (templates/report.html.tmpl),
// markdown.go (templates/summary.md.tmpl), junit.go; pagecheck.go and
// csp.go check the page.
package report
