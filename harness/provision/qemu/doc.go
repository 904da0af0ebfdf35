// Package qemu is the provider of disposable VM nodes: a qemu guest booted
// from a chosen kernel (harness/vm) with systemd as PID 1, reached over
// ssh (harness/node/remote) with relapse's agent copied in. Kernel-level
// triggers (sysctls, PID 1's memory, systemd load) then change only the
// guest, never the machine relapse runs on.
//
// The accelerator is chosen by what really works: KVM when /dev/kvm can
// run the guest kernel, software emulation (TCG) otherwise - for instance
// on a PVM host, whose /dev/kvm runs only kernels built as PVM guests. The
// report says which, and why.
package qemu
