// Package ctrdkit is the containerd engine of the kit (harness/kit): a
// bug declared with Component "containerd" runs under a containerd of the
// version under test, started on the run's node before its control, with
// the kit's runc as the shim's runtime binary.
//
// It registers itself with kit.RegisterEngine from init; a bug package
// imports it (harness/scenarios/containerdbugs) and reaches the daemon
// through Of(r). The daemon is harness/daemons' (the one
// containerd-metrics-deadlock starts): private root, state and sockets in
// the run's directory, its own network namespace and cgroup parent, the
// config layout its own build writes. Kit adds what bugs share: a
// long-running task on the kit's root filesystem, the reproducer's ctr
// lines, the shims of the run, the task events the daemon publishes
// (WatchTasks: how a bug shows an event it did not send) and a task's exit
// status. On a VM node the client reaches the daemon's socket through the
// node's agent. Another engine (kubelet) follows the
// same shape: a package of its own registering a kit.Engine.
package ctrdkit
