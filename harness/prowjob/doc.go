// Package prowjob is the layout of one matrix cell on disk, as Prow
// writes a job's results and TestGrid and Spyglass read them: the cell's
// directory holds started.json, finished.json and artifacts/ with one
// JUnit file. relapse matrix writes cells in it and relapse results reads
// them back (from any machine), so both take the names and the two JSON
// shapes from here rather than each keeping its own copy.
//
// prowjob imports nothing of relapse's.
package prowjob
