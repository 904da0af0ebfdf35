// Package remote is a node reached over ssh: commands, files and processes
// on a VM or a Vagrant box, with relapse's agent (harness/node/agent)
// answering the /proc questions detectors ask. One ssh master connection
// per node carries every command (0.2-0.4 s each under emulation instead
// of a new handshake). A command's remote PID is known, so cancelling it
// kills it on the node, not only the local ssh client.
package remote
