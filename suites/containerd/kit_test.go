package containerd_test

import "github.com/relapse-dev/relapse/suites/suitekit"

// The containerd bugs declared with the kit (harness/scenarios/
// containerdbugs): their specs derive from each declaration
// (suitekit.KitBugs); each runs a containerd of the version under test
// with the kit's runc.
var _ = suitekit.KitBugs("containerd")
