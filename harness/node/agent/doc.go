// Package agent is relapse's helper on a remote node (a VM, a Vagrant box):
// a static binary copied onto the node that answers the questions detectors
// ask of /proc (process lists, deep snapshots, pipe holders, host facts)
// with JSON, so the same detectors work on the host and on a node reached
// over ssh. It also carries the node-side halves of injectors and probes
// that must run next to what they measure (D-Bus calls to PID 1, PID 1's
// bus cookie), where an ssh round trip per call would be the measurement.
// `connect` relays a TCP or unix connection on the node (in whatever
// namespace it was started) over its standard streams: Dial is how relapse
// reaches a cluster inside a VM.
//
// cmd/relapse-agent is its main; Build compiles it for the node.
package agent
