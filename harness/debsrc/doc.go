// Package debsrc builds components from Debian source packages with a patch:
// a kernel image for qemu nodes (linux with one upstream change reverted and
// a small config) and binary packages to put into a VM root filesystem
// variant (systemd with one upstream change reverted).
//
// When the system a bug was seen on cannot be had offline, today's Debian
// source with the one upstream change taken out is the honest substitute,
// and the result says exactly that: package, Debian version, each patch with
// its hash, the build root's toolchain and the commands that built it.
//
// Sources come through a private apt configuration in relapse's cache
// (deb-src lines for the host's own mirror; the host's apt configuration is
// left alone) and builds run in a cached Debian build root (debootstrap
// --variant=buildd) entered through a private mount and PID namespace, so
// nothing is installed on the host and a killed build leaves no mounts or
// processes behind. Results are cached by package, version, patch hashes,
// recipe and inputs; one heavy build runs at a time.
package debsrc
