// Package measure keeps what a run measures of the machine it runs on (the
// latency of task creates, container starts, a detector's own samples),
// so thresholds scale with what this machine does now: a loaded CI runner
// is slower than the laptop a default was chosen on, and a deadline is not
// evidence.
package measure
