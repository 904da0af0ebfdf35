// Package atomicfile writes a file so that a reader sees the old content
// or the new, never a part: reports, cells and pages that a killed run or
// a concurrent reader must not find truncated.
package atomicfile
