package clusterkit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/mod/semver"

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

// Components: Kubernetes (the version the bug is about), runc, and the
// containerd kubelet's CRI runs on (after Kubernetes: its default follows it).
func (ScenarioBase) Components() []versions.Builder {
	return []versions.Builder{versions.KubernetesRecipe, versions.RuncRecipe, versions.ContainerdRecipe}
}

// Kubernetes and containerd versions that decide what a cluster can run.
const (
	// containerd2Kubelet is the first kubelet that speaks CRI v1 by
	// preference: containerd 2.0 removed v1alpha2, the only CRI kubelet
	// spoke before 1.20 and its first choice before 1.23.
	containerd2Kubelet = 23
	// criV1OnlyKubelet is the first kubelet that speaks CRI v1 only
	// (v1alpha2 was removed in 1.26); containerd serves v1 from 1.6.
	criV1OnlyKubelet = 26
	// newestStackKubelet is the first Kubernetes whose cluster gets
	// containerd 2.x by default: Kubernetes 1.35's release notes make it
	// the last release to support containerd 1.x.
	newestStackKubelet = 35
	// olderStackContainerd is the containerd clusters of older Kubernetes
	// get by default: the one Debian bookworm ships, which the bare
	// clusters ran (Debian's own binary) before containerd was built.
	olderStackContainerd = "1.6.20"
)

// DefaultVersionFor picks the containerd for the chosen Kubernetes:
// containerd 2.x (latest) from 1.35 and for a selector or git ref (today's
// Kubernetes), Debian bookworm's 1.6.20 for the releases before.
func (ScenarioBase) DefaultVersionFor(component string, chosen map[string]string) (string, bool) {
	if component != versions.Containerd.Name {
		return "", false
	}
	if minor, exact := kubeMinor(chosen[versions.Kubernetes.Name]); exact && minor < newestStackKubelet {
		return olderStackContainerd, true
	}
	return versions.SelectLatest, true
}

// kubeMinor is the minor of an exact Kubernetes version; exact is false
// for a selector or git ref, which mean a version only once resolved.
func kubeMinor(version string) (minor int, exact bool) {
	if version == "" || versions.IsSelector(version) || strings.HasPrefix(version, versions.GitPrefix) {
		return 0, false
	}
	return cluster.Minor(version), true
}

// exactVersion is an exact version as semver compares it ("" for a
// selector or git ref, which mean a version only once resolved).
func exactVersion(version string) string {
	v := "v" + strings.TrimPrefix(version, "v")
	if !semver.IsValid(v) {
		return ""
	}
	return v
}

// Supports says which versions cluster scenarios run with and why.
func (ScenarioBase) Supports() []scenario.Support {
	return []scenario.Support{
		{Component: "kubernetes", Why: fmt.Sprintf("1.19-1.37 on bare clusters (local node or qemu VM node), before 1.%d on kind (kubeadm 1.37 starts etcd with an etcd 3.6 flag; the node image has Debian's etcd 3.4.23); "+
			"from 1.35 on this kind of host (cgroup v1 or hybrid) kubelet is told failCgroupV1: false, since 1.35 refuses cgroup v1 by default; "+
			"runtime=dockershim: before 1.24, bare clusters on the local node (the containerd version is then unused)", newestStackKubelet)},
		{Component: "containerd", Range: scenario.ContainerdBuildable.Range, Why: fmt.Sprintf("%s by default before kubernetes 1.%d, latest (2.x) from 1.%d and for selectors, its configuration in the layout its version reads; "+
			"containerd >= 2.0 needs kubernetes >= 1.%d (2.0 removed CRI v1alpha2, kubelet's choice before 1.%d); kubernetes >= 1.%d needs containerd >= 1.6 (CRI v1 only); %s",
			olderStackContainerd, newestStackKubelet, newestStackKubelet, containerd2Kubelet, containerd2Kubelet, criV1OnlyKubelet, scenario.ContainerdBuildable.Why)},
		{Component: "kubernetes", Why: "measured: 1.19.3, 1.19.4 and 1.30.14 with Debian's containerd 1.6.20 binary on bare and kind clusters (before containerd was built); " +
			"1.37.2 on a bare cluster on the local node with containerd 2.4.2 (kubelet-extra-sandbox NOT REPRODUCED 0 of 4, pleg-not-healthy REPRODUCED, " +
			"runc-pipe-hang-k8s with runc rc93 REPRODUCED) and with the built containerd 1.6.20 (a clean repetition) (2026-12-06)"},
	}
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
	containerd, err := env.Artifact("containerd")
	if err != nil {
		return nil, err
	}
	files := map[string]string{"runc": runc.Path}
	for _, name := range bare.NodeBinaries {
		files[name] = filepath.Join(k8s.Path, name)
	}
	for _, name := range cluster.ContainerdBinaries {
		files[name] = filepath.Join(containerd.Path, name)
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
		What: fmt.Sprintf("Kubernetes %s (%s), runc %s and containerd %s (%s)", k8s.Version, strings.Join(bare.NodeBinaries, ", "), runc.Version, containerd.Version, how)}}, nil
}

// CheckPlan refuses combinations no cluster can run, before anything runs.
func (ScenarioBase) CheckPlan(provider string, params scenario.Values, versions map[string]string) error {
	clusterProvider := params.String(ProviderParam.Name)
	if provider != "local" && clusterProvider != "bare" {
		return fmt.Errorf("cluster=%s runs on the local node only (its node containers run on relapse's dockerd), not on PROVIDER=%s; use cluster=bare on a VM node", clusterProvider, provider)
	}
	if err := checkStack(versions["kubernetes"], versions["containerd"]); err != nil {
		return err
	}
	if minor, exact := kubeMinor(versions["kubernetes"]); exact && minor >= newestStackKubelet && clusterProvider == "kind" {
		return fmt.Errorf("cluster=kind runs Kubernetes before 1.%d only, not %s: kubeadm %s starts etcd with --feature-gates (an etcd 3.6 flag), and the kind node image carries Debian's etcd 3.4.23, which refuses it (measured with 1.37.2); use cluster=bare", newestStackKubelet, versions["kubernetes"], versions["kubernetes"])
	}
	return cluster.CheckRuntime(provider, params.Optional(cluster.RuntimeParam.Name, cluster.RuntimeContainerd), clusterProvider, versions["kubernetes"])
}

// checkStack refuses a kubelet and a containerd that share no CRI
// version. A selector or git ref passes here and is checked again once
// resolved (Prepare calls CheckPlan with the resolved versions).
func checkStack(kubernetes, containerd string) error {
	minor, exact := kubeMinor(kubernetes)
	c := exactVersion(containerd)
	if !exact || c == "" {
		return nil
	}
	if semver.Compare(c, "v2.0.0-0") >= 0 && minor < containerd2Kubelet {
		return fmt.Errorf("containerd %s serves CRI v1 only, and kubelet %s speaks v1alpha2 (CRI v1 is kubelet's choice from 1.%d): use CONTAINERD=%s (or leave it out) with this Kubernetes, or KUBERNETES=1.%d or newer",
			containerd, kubernetes, containerd2Kubelet, olderStackContainerd, containerd2Kubelet)
	}
	if semver.Compare(c, "v1.6.0") < 0 && minor >= criV1OnlyKubelet {
		return fmt.Errorf("kubelet %s speaks CRI v1 only, which containerd serves from 1.6, not %s: use CONTAINERD=%s or newer, or leave it out", kubernetes, containerd, olderStackContainerd)
	}
	return nil
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
	containerd, err := env.Artifact("containerd")
	if err != nil {
		return nil, cluster.Options{}, err
	}
	gates, err := cluster.ParseFeatureGates(env.Params.Optional(cluster.FeatureGatesParam.Name, ""))
	if err != nil {
		return nil, cluster.Options{}, err
	}
	opts := cluster.Options{BinDir: k8s.Path, Version: k8s.Version, Runc: runc.Path, StallCRI: stallCRI, FeatureGates: gates,
		ContainerdDir: containerd.Path, ContainerdVersion: containerd.Version,
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
