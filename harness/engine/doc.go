// Package engine drives the container engines under test on a node. Runc
// runs OCI bundles with a private state root, so relapse never sees or
// disturbs containers it did not create; every root it uses is journaled
// and a run killed half-way has its containers deleted by the next run.
package engine
