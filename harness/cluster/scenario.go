package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// CheckNode: clusters run on the local node so far (bare ones in
// namespaces of their own, kind ones in relapse's own dockerd).
func (ScenarioBase) CheckNode(provider string) error {
	if provider != "local" {
		return fmt.Errorf("cluster scenarios run their cluster on the local node so far (in namespaces of their own; nothing is left on the host), not on %q", provider)
	}
	return nil
}

// Start brings up the run's cluster from its built artifacts, with the
// provider the run's cluster parameter names, and records how it was made.
func Start(ctx context.Context, env *scenario.Env, stallCRI bool) (*Cluster, Options, error) {
	k8s, ok := env.Artifacts["kubernetes"]
	runc, ok2 := env.Artifacts["runc"]
	if !ok || !ok2 {
		return nil, Options{}, errors.New("missing kubernetes or runc artifact")
	}
	opts := Options{BinDir: k8s.Path, Version: k8s.Version, Runc: runc.Path, StallCRI: stallCRI, CNI: env.Params[CNIParam.Name],
		Runtime: env.Params[RuntimeParam.Name]}
	provider := env.Params[ProviderParam.Name]
	if provider == "" {
		provider = ProviderParam.Default
	}
	start, ok := starters[provider]
	if !ok {
		return nil, opts, fmt.Errorf("unknown cluster provider %q (known: %s)", provider, strings.Join(ProviderNames(), ", "))
	}
	c, err := start(ctx, env, opts)
	if err != nil {
		return nil, opts, err
	}
	env.Report.NodeSetup = append(env.Report.NodeSetup, c.Setup...)
	return c, opts, nil
}

func init() {
	RegisterProvider("bare", func(ctx context.Context, env *scenario.Env, o Options) (*Cluster, error) {
		b, err := StartBare(ctx, env, o)
		if err != nil {
			return nil, err
		}
		return &b.Cluster, nil
	})
}
