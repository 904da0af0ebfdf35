// Package scenario defines what a reproduction is: the upstream bug it
// targets (links, the component whose version decides, the affected semver
// range), the versions and typed parameters it takes, and the Run that
// triggers the bug and turns detector findings into a result. Env is what
// a running scenario gets: the run (package run), its builds and its
// validated parameters. The registry lets the CLI and the Ginkgo suites
// find scenarios by name.
package scenario
