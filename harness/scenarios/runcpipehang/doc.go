// Package runcpipehang reproduces the rc93 seccomp pipe hang as upstream
// names it: containerd/containerd#5261 (the seed's report), fixed by
// opencontainers/runc#2871 in v1.0.0-rc94. runc v1.0.0-rc93 exports the
// container's seccomp filter into a pipe before reading it back. With
// noNewPrivileges the filter is loaded after capabilities are dropped, so
// the kernel treats the process as unprivileged; once root's pipes exceed
// fs.pipe-user-pages-soft a new pipe holds only the minimum (2 pages, 8192
// bytes, since Linux 5.14; 1 page before), and a filter larger than that
// blocks `runc init` forever. (opencontainers/runc#2828 is a different
// bug, runc init blocked opening exec.fifo.)
//
// The bug is declared with the kit (containerd_5261.go: CLI name
// containerd-5261, runc-pipe-hang its older alias; its specs, nightly
// cells and bisection endpoints derived from the declaration). Its control
// is a container with the host's limit (must start); its trigger lowers the
// soft limit and creates up to N containers with a filter larger than the
// pipe while the pipe-deadlock detector watches their `runc init`
// (trigger.go) - bare, or through dockerd or containerd (ENGINE=,
// engines.go). The package keeps those beside the declaration, and the
// portable reproducer (manual.go).
package runcpipehang
