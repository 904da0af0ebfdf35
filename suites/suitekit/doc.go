// Package suitekit is what every Ginkgo suite of relapse shares: running a
// scenario as a spec (report path attached to the spec, verdict asserted
// with its reason) and the host residue check each spec ends with.
package suitekit
