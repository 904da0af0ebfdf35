// Package vm makes what a disposable VM node boots from, offline and cached:
// a Debian kernel (linux-image .deb, unpacked without installing it), a small
// initramfs that loads the virtio drivers and switches to the real root, a
// read-only disk of that kernel's modules, and a Debian root filesystem
// (debootstrap) with systemd as PID 1 and sshd, as a qcow2 base image that
// each node overlays copy-on-write. It also decides which accelerator qemu
// can really use on this host.
//
// Nothing here changes the host outside relapse's cache directory.
package vm
