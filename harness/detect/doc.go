// Package detect holds the bug-specific detectors. A detector watches a
// node and emits findings; each finding carries the evidence that justifies
// it (process snapshots, log lines), so a verdict never rests on a timeout
// alone and a report can show why the detector decided what it did.
package detect
