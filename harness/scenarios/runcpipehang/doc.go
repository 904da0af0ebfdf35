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
// The run: a control container with the host's limit (must start), then
// the soft limit lowered and up to N containers created with a filter
// larger than the pipe while the pipe-deadlock detector watches their
// `runc init` - bare, or through dockerd or containerd (ENGINE=).
package runcpipehang
