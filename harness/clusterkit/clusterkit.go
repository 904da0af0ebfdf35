package clusterkit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/cluster/bare"
	"github.com/relapse-dev/relapse/harness/cluster/kind"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/registry"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// Providers are the cluster providers a cluster scenario can use.
var Providers = registry.New[cluster.Provider]("cluster provider", bare.Provider{}, kind.Provider{})

// ProviderParam is the parameter every cluster scenario takes to choose
// who makes its cluster.
var ProviderParam = scenario.ChoiceParam("cluster", "bare", describeProviders(), Providers.Names()...)

func describeProviders() string {
	var parts []string
	for _, p := range Providers.All() {
		parts = append(parts, p.Name()+" ("+p.Describe()+")")
	}
	return "who makes the cluster: " + strings.Join(parts, "; ")
}

// ScenarioBase is embedded by cluster scenarios: the components they
// build and the nodes they run on.
type ScenarioBase struct{}

// Components: Kubernetes (the version the bug is about) and runc.
func (ScenarioBase) Components() []versions.Builder {
	return []versions.Builder{versions.KubernetesRecipe, versions.RuncRecipe}
}

// CheckNode: bare clusters run on the local node (in namespaces of their
// own; nothing is left on the host) or on a qemu VM node, whose root
// filesystem carries etcd, containerd and the CNI plugins; kind clusters
// on the local node (CheckPlan).
func (ScenarioBase) CheckNode(provider string) error {
	if provider != "local" && provider != "qemu" {
		return fmt.Errorf("cluster scenarios run their cluster on the local node or a qemu VM node (PROVIDER=local or qemu), not on %q", provider)
	}
	return nil
}

// NodeMemoryMiB: etcd, the control plane, kubelet and containerd want
// about 1 GiB between them; VM nodes get 3 GiB.
func (ScenarioBase) NodeMemoryMiB() int { return 3072 }

// NodeDisks gives a VM node the Kubernetes build and the runc under test
// on a read-only disk (cached per build).
func (ScenarioBase) NodeDisks(ctx context.Context, env *scenario.Env) ([]provision.NodeDisk, error) {
	k8s, err := env.Artifact("kubernetes")
	if err != nil {
		return nil, err
	}
	runc, err := env.Artifact("runc")
	if err != nil {
		return nil, err
	}
	files := map[string]string{"runc": runc.Path}
	for _, name := range bare.NodeBinaries {
		files[name] = filepath.Join(k8s.Path, name)
	}
	image, built, err := vm.FilesDisk(ctx, env.CacheDir, "relapse-k8s", files)
	if err != nil {
		return nil, err
	}
	how := "cached"
	if built {
		how = "made for this build"
	}
	return []provision.NodeDisk{{Image: image, MountPoint: cluster.NodeBinDir,
		What: fmt.Sprintf("Kubernetes %s (%s) and runc %s (%s)", k8s.Version, strings.Join(bare.NodeBinaries, ", "), runc.Version, how)}}, nil
}

// CheckPlan refuses combinations no cluster can run, before anything runs.
func (ScenarioBase) CheckPlan(provider string, params scenario.Values, versions map[string]string) error {
	clusterProvider := params.String(ProviderParam.Name)
	if provider != "local" && clusterProvider != "bare" {
		return fmt.Errorf("cluster=%s runs on the local node only (its node containers run on relapse's dockerd), not on PROVIDER=%s; use cluster=bare on a VM node", clusterProvider, provider)
	}
	return cluster.CheckRuntime(provider, params.Optional(cluster.RuntimeParam.Name, cluster.RuntimeContainerd), clusterProvider, versions["kubernetes"])
}

// Start brings up the run's cluster from its built artifacts, with the
// provider the run's cluster parameter names, and records how it was made.
func Start(ctx context.Context, env *scenario.Env, stallCRI bool) (*cluster.Cluster, cluster.Options, error) {
	k8s, err := env.Artifact("kubernetes")
	if err != nil {
		return nil, cluster.Options{}, err
	}
	runc, err := env.Artifact("runc")
	if err != nil {
		return nil, cluster.Options{}, err
	}
	opts := cluster.Options{BinDir: k8s.Path, Version: k8s.Version, Runc: runc.Path, StallCRI: stallCRI,
		CNI:     env.Params.Optional(cluster.CNIParam.Name, cluster.CNIBridge),
		Runtime: env.Params.Optional(cluster.RuntimeParam.Name, cluster.RuntimeContainerd)}
	p, err := Providers.Lookup(env.Params.String(ProviderParam.Name))
	if err != nil {
		return nil, opts, err
	}
	c, err := p.Start(ctx, env, opts)
	if err != nil {
		return nil, opts, err
	}
	env.NodeFact(c.Setup...)
	return c, opts, nil
}
