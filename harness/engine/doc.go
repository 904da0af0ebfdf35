// Package engine drives the container engines under test on a node. Runc
// runs OCI bundles with a private state root, so relapse never sees or
// disturbs containers it did not create; every root it uses is owned by
// the run and a run killed half-way has its containers deleted by the next
// run. Dockerd and containerd, which drive this runc as their runtime,
// are run by harness/daemons.
package engine
