// Package layers is the one place the harness's layers are written down,
// lowest first. Data flows one way - versions -> node -> engine ->
// trigger -> detectors -> verdict -> report - and a package may import
// only packages of its own layer or a lower one. The test in this package
// fails the build (`make test`) when an import goes up, or when a package
// is in no layer.
package layers
