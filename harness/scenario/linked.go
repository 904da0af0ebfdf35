package scenario

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// ErrNotLinked marks a request for a scenario or engine this binary knows
// by name but does not link (a lean build, -tags relapse_lean, leaves out
// those that need the cluster, Docker or containerd clients). Callers test
// it with errors.Is to say how to get a binary that has it; any other
// mistake (a typo, a patch that does not apply) gets no such hint.
var ErrNotLinked = errors.New("not linked into this relapse")

var (
	leftOutMu sync.Mutex
	leftOut   []string
)

// LeftOut records scenarios that exist but are not linked into this
// binary; the lean link file (harness/scenarios/zz_link_lean.go) names
// them.
func LeftOut(names ...string) {
	leftOutMu.Lock()
	defer leftOutMu.Unlock()
	leftOut = append(leftOut, names...)
}

func isLeftOut(name string) bool {
	leftOutMu.Lock()
	defer leftOutMu.Unlock()
	return slices.Contains(leftOut, name)
}

// NotLinkedChoice accepts the values of linked and, for a value of known
// that is not linked, fails with ErrNotLinked: an engine a lean build
// leaves out is not a typo.
func NotLinkedChoice(known, linked []string) func(string) error {
	return func(v string) error {
		if slices.Contains(linked, v) {
			return nil
		}
		if slices.Contains(known, v) {
			return fmt.Errorf("%q is %w (it has %s)", v, ErrNotLinked, strings.Join(linked, ", "))
		}
		return fmt.Errorf("want one of %s", strings.Join(linked, ", "))
	}
}
