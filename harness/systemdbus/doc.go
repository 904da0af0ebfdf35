// Package systemdbus is the node-side half of relapse's systemd work: it
// runs inside a node (as relapse-agent subcommands) and talks to PID 1
// over D-Bus where an ssh round trip per call would distort what is
// measured.
//
//   - dbus-load: transient unit churn through systemd's D-Bus API
//     (StartTransientUnit / StopUnit, as runc's systemd cgroup driver
//     does), at a chosen rate, with JSON progress lines.
//   - dbus-probe: Introspect and GetUnit on org.freedesktop.systemd1 over
//     the system bus and a Version read over systemd's private socket,
//     sampled continuously with deadlines; each sample carries the newest
//     serial (cookie) PID 1 was seen sending, from a bus monitor.
//   - bus-cookie: finds PID 1's system-bus cookie in its memory (scan for
//     the serial it just sent, narrowed over several calls to the words
//     that rise with it, each survivor proven by writing it and seeing
//     PID 1's next serial continue from there) and moves it near
//     0xffffffff, the trigger of systemd#11818. Only ever run in a
//     throw-away VM node: it writes PID 1's memory.
//
// The host side (harness/chaos.DBusLoad, harness/detect.SystemdBus, the
// systemd-cookie-overrun scenario) starts these and reads their output.
package systemdbus
