// Package provision is how a node comes to be: a small Provider interface
// (after kind's providers) beside its implementations - Local here (the
// host itself), qemu (a VM with a chosen kernel) and vagrant (a Vagrant
// box on relapse's own libvirtd) in the packages below. Scenarios never
// see the backend: they get a node.Node, and every detector and injector
// works on it unchanged.
//
// A provider validates its spec before anything on the host changes, owns
// what it starts on the host through the run (journaled, torn down on
// every exit path), and repairs what a killed run's node left: its
// Repairers are part of the interface, so a binary offers exactly the
// providers it lists in its Set and can repair what each of them leaves.
package provision
