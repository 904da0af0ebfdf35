// Package evidence holds the facts a report is built from and the code that
// reads them from a Linux machine: process snapshots taken from /proc (state,
// wait channel, kernel stack, current syscall, file descriptors resolved to
// pipes with their buffer sizes, capabilities) and host facts (kernel,
// distribution, libseccomp, cgroup mode).
//
// The types are plain data with JSON tags: detectors attach them to findings,
// and the report package renders them. The readers work on the machine they
// run on; providers for remote nodes run the same readers there.
package evidence
