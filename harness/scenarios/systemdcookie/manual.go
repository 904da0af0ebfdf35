package systemdcookie

import (
	"fmt"
	"strings"
)

// manualSteps is what a maintainer can do by hand in a throw-away VM with
// systemd as PID 1 (never on a machine that matters: it writes PID 1's memory).
func manualSteps(p settings) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# systemd#11818 by hand, as root, in a THROW-AWAY VM whose PID 1 is systemd.")
	w("# 1. Find the cookie of PID 1's system-bus connection: it equals the serial of the")
	w("#    last message PID 1 sent. Watch serials in one shell:")
	w("dbus-monitor --system \"sender='$(busctl --system call org.freedesktop.DBus / org.freedesktop.DBus GetNameOwner s org.freedesktop.systemd1 | cut -d'\"' -f2)'\"")
	w("#    then, with gdb and systemd's debug symbols (systemd-dbgsym):")
	w("gdb -p 1 -batch -ex 'print ((Manager*)m)->api_bus->cookie' -ex 'set var ((Manager*)m)->api_bus->cookie = %d'", 0xffffffff-p.margin)
	w("#    (without symbols relapse scans PID 1's heap for the serial and narrows it over a few calls:")
	w("#     relapse-agent bus-cookie %d)", 0xffffffff-p.margin)
	w("# 2. Make PID 1 send a few hundred messages, e.g. transient units:")
	w("for i in $(seq 1 %d); do systemd-run --unit=cookie-$i --collect /bin/true; done", p.margin+50)
	w("# 3. Affected (< 242): these hang, while systemctl (private socket) still answers:")
	w("busctl --system --timeout=5 tree org.freedesktop.systemd1")
	w("dbus-send --system --print-reply --dest=org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.DBus.Introspectable.Introspect")
	w("journalctl -b _PID=1 | grep -i 'not supported'")
	w("#    Fixed (>= 242): serials in dbus-monitor jump from 4294967295 to 2147483648 and calls keep answering.")
	w("#    `systemctl daemon-reexec` reconnects an affected systemd.")
	return b.String()
}
