// Package privdir makes the directories relapse executes from or serves
// from as root (run directories with the runc it copies in, a VM's ssh
// control socket, agent socket and qemu monitor): directories that relapse
// created itself, owned by its user, mode 0700, below a root no other user
// can rename or replace.
//
// A fixed name under a world-writable directory such as /tmp/relapse can
// be made first by any user, who then owns what relapse puts there and can
// swap a file between two of relapse's steps. So the root is /run/relapse
// (only root may create entries in /run) or $RELAPSE_RUNTIME_DIR, each
// directory is checked with Lstat (not a symlink, owned by this process's
// user, mode exactly 0700) and every directory above it must be safe too
// (owned by root or this user, not writable by others unless sticky);
// anything else is refused with an error that names the path, its owner
// and mode, and what to do. The directories of one run get unpredictable
// names (a random suffix, made with an exclusive mkdir) inside it.
//
// privdir imports nothing of relapse's, so the lowest layer (the build
// cache's fallback) may use it.
package privdir
