// Package reproscript renders the portable reproducers (reproduce.sh) that
// reports ship: POSIX shell scripts a maintainer runs as root in an empty
// directory, without relapse. Each scenario keeps its script as a
// text/template file of its own; this package adds the parts every script
// shares, above all one cleanup prologue, so that an interrupt at any
// point (Ctrl-C once or twice, TERM, HUP, through `timeout`) leaves the
// host and the directory as they were: the cleanup runs once with those
// signals ignored, restores the kernel parameter first, kills what /proc
// shows to be the script's (not only what a runtime's delete finds), and
// removes everything the script made.
package reproscript
