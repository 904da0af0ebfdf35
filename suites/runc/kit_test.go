package runc_test

import "github.com/relapse-dev/relapse/suites/suitekit"

// The specs of every runc bug declared with the kit (harness/kit),
// derived from its declaration (suitekit.KitBugs).
var _ = suitekit.KitBugs("runc")
