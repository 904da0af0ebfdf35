// Package clusterkit is what every cluster scenario shares: the cluster
// providers it can choose from (bare and kind, listed here), the cluster
// parameter, the components such a scenario builds, the nodes it accepts,
// the disk a VM node gets with the cluster's binaries, the combinations
// refused before anything runs, and Start, which brings the cluster up
// with the provider the run asked for.
package clusterkit
