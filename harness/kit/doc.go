// Package kit is how a bug is added to relapse: one declaration (Bug) in
// one file, its fixtures embedded beside it. The declaration holds the
// bug's identity (upstream id, fix, introducing and fixing releases,
// advisory), what it needs (component, node, engine), its trigger, its
// control and the classification of what they showed. Everything else is
// derived from it here, so nothing else names the bug by hand:
//
//   - the CLI entry: Register makes a scenario named after the upstream id
//     (Name: "CVE-2024-21626" -> cve-2024-21626, "runc#3952" -> runc-3952);
//   - the Ginkgo specs: Cases (suitekit.KitBugs iterates them, in
//     suites/runc for runc bugs and suites/kubernetes for kubelet bugs);
//   - the nightly cells: Groups (ci/nightly.yaml's `kit: all` entry);
//   - the bisection endpoints: Endpoints;
//   - the report's bug record, whose summary.md follows the tracker's bug
//     form (harness/report), with the advisory for a CVE;
//   - the link files and make's lists: kit bugs live in a package already
//     linked (harness/scenarios/runcbugs, and kubeletbugs for the bugs of
//     Component "kubernetes", which run on a one-node cluster: cluster.go),
//     one file each.
//
// Check says what a declaration lacks; a unit test runs it over every
// registered bug, so a bug without identity, specs or cells fails the
// build.
package kit
