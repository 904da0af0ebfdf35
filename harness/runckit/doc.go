// Package runckit is what every bare-runc scenario shares: "runc
// containers under a watching detector".
//
// A Kit puts the runc under test on the run's node (its binary in the run
// directory, a private state root the run owns, optionally --systemd-cgroup
// and a debug log), builds the static fixture init and a root filesystem
// with it, and writes OCI bundles. Kit.Try creates and starts one
// container with one foreground `runc run`, racing it against a detector and
// one deadline for the whole attempt; it records the attempt, keeps a
// process the detector found stuck for a while if asked, captures the
// evidence maintainers ask for (the waiting runc command, `runc list`, the
// debug log, every runc process after an unclassified deadline), deletes
// the container and reads the init's own JSON report.
//
// A scenario built on it is its Bug, its parameters, its trigger, the
// detector it picks and the rule that turns outcomes into a verdict.
package runckit
