// Package runcerrnoret reproduces the seccomp errnoRet failure of runc
// before v1.0.0-rc91 as upstream names it: the seed's CRI-O pods stuck in
// ContainerCreating (cri-o/cri-o#4491), fixed by opencontainers/runc#2424
// ("libcontainer: honor seccomp errnoRet"). A runc that ignores a rule's
// errnoRet turns clone3 -> SCMP_ACT_ERRNO(ENOSYS) into SCMP_ACT_ERRNO(EPERM),
// which equals the default action of Docker's and containers/common's
// profiles; libseccomp refuses such a rule and the container never starts.
//
// Releases before rc91 cannot be built from the module proxy (no go.mod, no
// vendor/), so the affected side is rc91 with runc#2424 reverted
// (fixtures/patches/runc/revert-2424-v1.0.0-rc91.patch); every report says so.
//
// The run: a control bundle with the same profile minus its errnoRet rules
// (must start), then the bundle with them. Bare runc, or through podman and
// conmon from Debian with podman's own default profile (ENGINE=podman).
// noNewPrivileges is off, as in Kubernetes: with it on, old runc loads the
// filter after the init pipe is closed and the error is lost.
package runcerrnoret
