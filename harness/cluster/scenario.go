package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// ScenarioBase is embedded by scenarios that run a bare cluster: the
// components they build and the nodes they run on.
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

// NodeBinDir is where a VM node mounts the disk with the cluster's
// binaries (not under /opt or /run: daemons get tmpfs there).
const NodeBinDir = "/mnt/relapse-k8s"

// NodeDisks gives a VM node the Kubernetes build and the runc under test
// on a read-only disk (cached per build).
func (ScenarioBase) NodeDisks(ctx context.Context, env *scenario.Env) ([]scenario.NodeDisk, error) {
	k8s, ok := env.Artifacts["kubernetes"]
	runc, ok2 := env.Artifacts["runc"]
	if !ok || !ok2 {
		return nil, errors.New("missing kubernetes or runc artifact")
	}
	files := map[string]string{"runc": runc.Path}
	for _, name := range nodeBinaries {
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
	return []scenario.NodeDisk{{Image: image, MountPoint: NodeBinDir,
		What: fmt.Sprintf("Kubernetes %s (%s) and runc %s (%s)", k8s.Version, strings.Join(nodeBinaries, ", "), runc.Version, how)}}, nil
}

// CheckPlan refuses combinations no cluster can run, before anything runs.
func (ScenarioBase) CheckPlan(provider string, params, versions map[string]string) error {
	cluster := params[ProviderParam.Name]
	if provider != "local" && cluster != "" && cluster != "bare" {
		return fmt.Errorf("cluster=%s runs on the local node only (its node containers run on relapse's dockerd), not on PROVIDER=%s; use cluster=bare on a VM node", cluster, provider)
	}
	return checkRuntime(provider, params[RuntimeParam.Name], cluster, versions["kubernetes"])
}

// checkRuntime: dockershim is kubelet's own, on bare clusters on the
// local node (VM nodes have no dockerd) before 1.24.
func checkRuntime(node, runtime, cluster, version string) error {
	if runtime != RuntimeDockershim {
		return nil
	}
	if node != "local" {
		return fmt.Errorf("runtime=dockershim runs on the local node only (VM nodes have no dockerd), not on PROVIDER=%s; use runtime=containerd", node)
	}
	if cluster != "" && cluster != "bare" {
		return fmt.Errorf("runtime=dockershim runs on bare clusters only (kind nodes run containerd), not cluster=%s", cluster)
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
