// Package node is the seam between an experiment and the machine it runs on.
//
// A Node runs commands, reads and writes files and inspects processes. Every
// provider (the local host, a qemu VM, a Vagrant box, a kind node) implements
// the same small interface, so injectors, detectors and scenarios never know
// where they run. A failed command returns a *RunError that prints the exact
// command line and its output, ready to paste into a shell on that node.
package node
