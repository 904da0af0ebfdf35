// Package provision is how a node comes to be: a small Provider interface
// (after kind's providers) with one implementation per backend - the local
// host, a qemu VM with a chosen kernel, a Vagrant box. Scenarios never see
// the backend: they get a node.Node, and every detector and injector works
// on it unchanged. A provider validates its options before anything on the
// host changes, journals what it starts on the host, and registers its
// teardown with the run, so a VM is gone on every exit path and a killed
// run's VM is removed by the next run's repair.
package provision
