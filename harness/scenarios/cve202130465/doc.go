// Package cve202130465 reproduces CVE-2021-30465 (GHSA-c3xm-pvg7-gh7r), a
// public advisory fixed in runc v1.0.0-rc95 by commit 0ca91f44 ("rootfs:
// add mount destination validation"): runc up to rc94 checks a bind
// mount's destination inside the container's root, then mounts onto the
// path string, so a container that shares the volume can swap the
// destination for a symlink in between (renameat2 RENAME_EXCHANGE) and
// the mount lands outside the root; a later mount whose source runs
// through that place then brings a directory of the attacker's choosing
// into the container.
//
// The run: an attacker container with the shared volume exchanges a
// directory and a symlink in it without pause, while victim containers
// (the same OCI config each time) mount the shared volume, a second volume
// onto the swapped name, and the second volume again through a path the
// misplaced mount redirects to a directory relapse planted with a random
// token. A victim that reads the token escaped; k of n starts with its
// Wilson interval is the rate.
//
// Contained on the host, not in a VM: every mount runc makes happens in
// the victim's own mount namespace, which runc turns rslave before any
// mount, so a misplaced mount never reaches the host's; and both symlinks
// the race can make runc follow point into this run's directory (the
// volumes' parent and the planted directory), so the worst the race does
// is mount the run's second volume onto the run's volumes directory inside
// that namespace. Nothing outside the run's directory is read or written.
package cve202130465
