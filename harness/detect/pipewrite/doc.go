// Package pipewrite detects a process blocked forever writing into a pipe
// only it can read: runc v1.0.0-rc93's `runc init` exporting its seccomp
// filter into a shrunk pipe (containerd#5261, fixed by runc#2871). It is
// its own package, with no dependency on container engines or Kubernetes
// clients, because relapse-agent carries it onto VM nodes and runs it next
// to the processes it watches (watch-pipe-deadlock).
package pipewrite
