// Package engine drives the container engines under test on a node. Runc
// runs OCI bundles with a private state root, so relapse never sees or
// disturbs containers it did not create; every root it uses is owned by
// the run and a run killed half-way has its containers deleted by the next
// run. Dockerd (Debian's, with the containerd it manages) and containerd
// (any version relapse builds) run as sandbox daemons with the runc under
// test as their runtime, driven with their Go clients.
package engine
