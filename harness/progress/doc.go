// Package progress shows long steps (builds, image builds, boots, cluster
// waits) while they run: on a terminal a live bar with the phase, the
// elapsed time and an estimate from the previous runs of the same step
// (github.com/vbauerster/mpb); anywhere else, such as a CI log, plain lines
// (a heartbeat every half minute and a closing line with the duration), so
// logs stay greppable and free of control characters.
//
// Estimates are what the same step took the last few times on this machine,
// kept in a small JSON file in relapse's cache directory. They are shown as
// expectations, never used to decide anything.
package progress
