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

// CheckPlan refuses combinations no cluster can run, before anything runs.
func (ScenarioBase) CheckPlan(params, versions map[string]string) error {
	return checkRuntime(params[RuntimeParam.Name], params[ProviderParam.Name], versions["kubernetes"])
}

// checkRuntime: dockershim is kubelet's own, on bare clusters before 1.24.
func checkRuntime(runtime, provider, version string) error {
	if runtime != RuntimeDockershim {
		return nil
	}
	if provider != "" && provider != "bare" {
		return fmt.Errorf("runtime=dockershim runs on bare clusters only (kind nodes run containerd), not cluster=%s", provider)
	}
	if Minor(version) >= 24 {
		return fmt.Errorf("runtime=dockershim needs Kubernetes < 1.24 (dockershim was removed in 1.24), not %s; use runtime=containerd, or KUBERNETES=1.19.3 or 1.19.4", version)
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
