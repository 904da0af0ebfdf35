// Package run is the bottom of every experiment: what one run owns and
// records, whatever it runs on and whatever it reproduces.
//
//   - Run is the run context: its node and directories, the cleanups that
//     tear it down last-in first-out (each with a deadline of its own), the
//     timeline, the measured conditions, the evidence blocks and the
//     component versions observed on the node, all recorded into the
//     run's report.Report.
//   - Journal is the on-disk record of every change to a host, written
//     before the change is made; Own pairs a journal entry with the undo
//     that forgets it, and Run.Own also registers that undo as a cleanup,
//     so one call owns a host resource end to end. A run killed with
//     SIGKILL leaves its entries; the next run repairs them first with the
//     repairers the owning packages registered.
//   - CheckTarget, CheckChild, CheckName and RunTarget are the one guard
//     every repairer puts what an entry names through: an empty, relative,
//     "/" or out-of-tree path, or a name relapse did not give, is refused
//     before anything is killed or removed.
//   - Ledger is the list of changes shown in the report (before, applied,
//     after, restored), undone newest first.
//   - HostLock lets one experiment at a time change a host.
//   - Run directories (NewDir, MakeDir) are private to root, with names
//     nobody can guess, in DirRoot below privdir's root (/run/relapse).
//
// Node providers, cluster providers, engines, injectors and scenarios take
// what they need from here; run imports only node, report, privdir
// and progress.
package run
