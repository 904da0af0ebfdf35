// Package daemons runs the container engines that drive the runc under
// test as sandbox daemons on a node, and talks to them with their Go
// clients: dockerd (Debian's, with the containerd it manages) and
// containerd (any version relapse builds). Each has the runc under test as
// its runtime, a state directory owned by the run, and a stop that the
// run's ledger calls on every exit path.
//
// It is apart from harness/engine (runc itself) because the Docker and
// containerd clients, with gRPC and protobuf, are most of what a binary
// that links them compiles: a scenario that only runs runc does not.
package daemons
