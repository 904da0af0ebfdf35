// Package runc3551 reproduces opencontainers/runc#3551, a regression of
// runc v1.1.3: with the systemd cgroup driver, `runc exec -t` fails with
// "open /dev/pts/0: operation not permitted" once `systemctl
// daemon-reload` ran. runc 1.1.3 (commit 7219387e, runc#3504) dropped
// device rules whose path does not exist from the systemd unit's
// DeviceAllow=, and "char-pts" is no path, so the unit lost "char-pts rwm";
// runc still writes the rule into the cgroup itself, until a reload makes
// systemd re-apply the unit's own rules. Fixed in v1.1.4 by runc#3554
// (runc#3559 on main).
//
// The run, on a VM node with systemd as PID 1: a container with a
// deny-all device rule (runc adds its default allow list, /dev/pts among
// it) started detached under --systemd-cgroup; `runc exec -t` into it (the
// control), `systemctl daemon-reload`, and `runc exec -t` again. The unit's
// DeviceAllow= before and after is evidence. A throw-away VM because the
// trigger reloads PID 1's whole configuration.
package runc3551
