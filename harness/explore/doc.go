// Package explore is `relapse chaos`: told nothing about a bug, it runs
// random but seeded schedules against a pinned stack and checks generic
// invariants. A schedule composes workload steps the explorer owns
// (create/start churn, exec storms, deletes, /v1/metrics scrapes) with
// the fault kinds registered in harness/chaos (chaos.FaultKinds). The
// invariants hold for any bug-free stack: every operation returns within a
// bound derived from the run's own latencies, the daemon answers, and
// nothing (runc init, shim, mount, cgroup) is left after teardown.
//
// With a Kubernetes version the trials run against one one-node cluster
// (cluster.go): pods instead of tasks, execs and stats through the
// cluster containerd's CRI, the fault kinds aimed at its shims; the node
// must stay Ready, pods must start and go within bounds of their own, and
// no CNI netns or host-local IP may be left once every pod is deleted.
//
// A violation is not a verdict by itself: the explorer gathers what the
// detectors can see (process snapshots with their syscalls and pipes,
// containerd's goroutine dump), shrinks the schedule to the fewest steps
// and faults that still violate in k of n replays, asks every registered
// scenario that implements scenario.Claimer whether the evidence is its
// bug, and writes a report with the seed that replays it; an unclaimed
// finding can be written as a draft kit declaration.
//
// It sits above the scenarios because it classifies against the catalog.
package explore
