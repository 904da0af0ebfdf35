package matrix

import (
	"fmt"

	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// component is the versions.Component the scenario builds under name.
func component(scenarioName, name string) (versions.Component, error) {
	s, err := scenario.Lookup(scenarioName)
	if err != nil {
		return versions.Component{}, err
	}
	if b := scenario.Builder(s, name); b != nil {
		return b.Target(), nil
	}
	return versions.Component{}, fmt.Errorf("scenario %s builds no %s", scenarioName, name)
}
