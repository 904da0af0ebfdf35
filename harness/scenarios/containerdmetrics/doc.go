// Package containerdmetrics reproduces containerd/containerd#6772 (moved
// from opencontainers/runc#3448): in containerd 1.6.0-1.6.2 the task Create
// path registers the new task with the cgroups metrics collector,
// Collector.Add taking the collector's lock and then the go-metrics
// namespace lock, while a concurrent Prometheus scrape (Collect) takes them
// in the opposite order. Create never returns, so `runc start` never runs
// and `runc init` waits forever on exec.fifo. Fixed in 1.6.3 (#6788, #6801).
//
// The run: a relapse containerd with a metrics address, several scrape
// loops on /v1/metrics, and concurrent task creation up to a bound, while
// the exec-fifo-stall detector watches; on a stall containerd's goroutines
// are dumped and the two lock-holding stacks named.
package containerdmetrics
