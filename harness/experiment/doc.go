// Package experiment runs one scenario end to end: it validates the request
// and resolves versions before touching the host, takes the host lock and
// repairs what a killed run left, builds the components, runs the scenario
// on a node, undoes every change on every exit path, checks the host is
// clean, decides the verdict against the bug's affected range and writes
// the report.
package experiment
