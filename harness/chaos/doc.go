// Package chaos holds the triggers: the injectors that change a node on
// purpose to provoke a bug, and the drivers that load it.
//
//   - Sysctl lowers or raises a kernel parameter for a run (the rc93 hang
//     needs fs.pipe-user-pages-soft at 1), journaled and put back through
//     the run's ledger.
//
//   - Churn starts containers at a rate and concurrency up to a bound, as
//     the seeds' loops did, and stops at the first start that does not
//     return or when a detector has decided.
//
//   - DBusLoad starts and stops transient units through PID 1's D-Bus API
//     at a rate, as runc's systemd cgroup driver does.
//
//   - Fault (fault.go) is the contract of the generic faults the chaos
//     explorer composes into seeded schedules; kinds register themselves:
//     pipe-pages (Sysctl on fs.pipe-user-pages-soft), dbus-load
//     (DBusLoad), pressure (stress-ng CPU, memory and I/O workers),
//     strace-delay and strace-error (strace -e inject= on the daemon, the
//     shims or runc), runtime-wrapper (a wrapper the engine runs as its
//     runc that delays or fails chosen subcommands: InstallWrapper) and
//     kill (a signal to the daemon, a shim or a runc init at a chosen
//     point). What a fault runs lives in a directory of its own in the
//     run's and names it on its command line, so a killed run's leftovers
//     are found and stopped (journal kind chaos-process).
//
// Every change an injector makes is owned through package run: journaled
// before it is made and undone on every exit path.
package chaos
