package runc_test

import "github.com/relapse-dev/relapse/suites/suitekit"

// The runc bugs declared with the kit: their specs derive from each
// declaration (suitekit.KitBugs).
var _ = suitekit.KitBugs("runc")
