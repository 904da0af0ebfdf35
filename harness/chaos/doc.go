// Package chaos changes a node on purpose and always puts it back.
//
// Every change is written to an on-disk journal before it is made, and
// removed from the journal once it is undone. The Ledger undoes changes in
// reverse order on every exit path of an experiment (success, failure,
// timeout, panic, SIGINT, SIGTERM); a run killed with SIGKILL leaves its
// journal behind, and the next run repairs it before touching anything else.
// Only one experiment changes a host at a time (HostLock).
package chaos
