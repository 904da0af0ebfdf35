// Package runcbugs holds the runc bugs declared with the scenario kit
// (harness/kit): one file per bug, named after its upstream id
// (cve_2024_21626.go), its fixtures in a directory of the bug's name
// beside it (cve-2024-21626/). A file registers its bug from init; the
// CLI entry, the specs, the nightly cells and the report's bug record
// are derived from the declaration. README "Adding a scenario" is the
// guide.
package runcbugs
