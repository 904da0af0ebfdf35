package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// ScenarioBase is embedded by scenarios that run a bare cluster: the
// components they build and the nodes they run on.
type ScenarioBase struct{}

// Components: Kubernetes (the version the bug is about) and runc.
func (ScenarioBase) Components() []versions.Builder {
	return []versions.Builder{versions.KubernetesRecipe, versions.RuncRecipe}
}

// CheckNode: bare clusters run on the local node so far.
func (ScenarioBase) CheckNode(provider string) error {
	if provider != "local" {
		return fmt.Errorf("cluster scenarios run their cluster on the local node so far (in namespaces of their own; nothing is left on the host), not on %q", provider)
	}
	return nil
}

// Start brings up the run's cluster from its built artifacts and records
// how it was made.
func Start(ctx context.Context, env *scenario.Env, stallCRI bool) (*Bare, Options, error) {
	k8s, ok := env.Artifacts["kubernetes"]
	runc, ok2 := env.Artifacts["runc"]
	if !ok || !ok2 {
		return nil, Options{}, errors.New("missing kubernetes or runc artifact")
	}
	opts := Options{BinDir: k8s.Path, Version: k8s.Version, Runc: runc.Path, StallCRI: stallCRI}
	c, err := StartBare(ctx, env, opts)
	if err != nil {
		return nil, opts, err
	}
	env.Report.NodeSetup = append(env.Report.NodeSetup, c.Setup(opts)...)
	return c, opts, nil
}
