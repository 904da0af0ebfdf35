// Package scenarios links every scenario into a binary: import it for its
// side effect of registering them all with harness/scenario. Its one other
// file, zz_link.go, is generated from the directories below it
// (`go generate ./harness/scenarios`, which `make build` and `make test`
// run), so a new scenario is only its own package; a unit test fails when
// the file and the directories disagree.
package scenarios

//go:generate go run ./internal/linkgen
