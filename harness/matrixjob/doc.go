// Package matrixjob runs a matrix's cells as a Kubernetes Indexed Job: the
// engine for self-hosted nodes (privileged, KVM) that a CI service does not
// offer. Each completion index picks one cell (relapse matrix --shard i/n
// with n the number of cells); each pod enters the node's host namespaces
// (hostPID, privileged, nsenter into PID 1, or into relapse itself when it
// made the cluster) and runs relapse there, because
// the cells change the host itself (sysctls, cgroups, daemons) and build
// with the host's toolchain and cache. Cells that change the host still take
// the host lock of their state directory one at a time; VM cells share it.
//
// Manifest writes the Job for any cluster; Run makes a bare cluster with
// relapse (experiment.Plan.Hold), runs the Job on it, waits for every index
// with a deadline, keeps each pod's log as the cell's build-log.txt, and
// leaves the cells' results in Prow's layout for relapse results to merge.
package matrixjob
