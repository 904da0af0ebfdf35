// Package scenarios links every scenario into a binary: import it for its
// side effect of registering them all with harness/scenario. Its two
// other files are generated from the directories below it (`go generate
// ./harness/scenarios`, which `make build` and `make test` run), so a new
// scenario is only its own package: zz_link.go links every scenario, and
// zz_link_lean.go, for a lean build (-tags relapse_lean), those whose
// imports reach no cluster, Docker or containerd client. A unit test
// fails when the files and the directories disagree.
package scenarios

//go:generate go run ./internal/linkgen
