// Package runcpipehang reproduces opencontainers/runc#2828 (seen through
// containerd/containerd#5261): runc v1.0.0-rc93 exports the container's
// seccomp filter into a pipe before reading it back. With noNewPrivileges the
// filter is loaded after capabilities are dropped, so the kernel treats the
// process as unprivileged; once root's pipes exceed fs.pipe-user-pages-soft a
// new pipe holds only 2 pages (8192 bytes), and a filter larger than that
// blocks `runc init` forever. Fixed in rc94 by runc#2871.
//
// The run: a baseline container with the host's limit (must start), then
// the soft limit lowered and up to N containers created with a filter larger
// than 8192 bytes while the pipe-deadlock detector watches their `runc init`.
package runcpipehang
