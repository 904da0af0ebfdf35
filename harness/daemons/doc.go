// Package daemons runs the container engines that drive the runc under
// test as sandbox daemons on a node, and talks to them with their Go
// clients: dockerd (Debian's, with the containerd it manages) and
// containerd (any version relapse builds). Each has the runc under test as
// its runtime, a state directory owned by the run, and a stop that the
// run's ledger calls on every exit path.
//
// The containerd client is containerd 1.7's (github.com/containerd/containerd),
// also against 2.x daemons: their gRPC services and messages (the
// containerd/api module) are the ones 1.7 speaks, and the runc v2 shim
// (io.containerd.runc.v2) is the runtime of both. Linking the /v2 client
// as well would compile a second copy of the client and its
// dependencies for no call the 1.7 one cannot make. Each daemon gets its
// config in the layout it writes itself (ContainerdConfig).
//
// It is apart from harness/engine (runc itself) because the Docker and
// containerd clients, with gRPC and protobuf, are most of what a binary
// that links them compiles: a scenario that only runs runc does not.
package daemons
