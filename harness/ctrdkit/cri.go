package ctrdkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/versions"
)

// NeedCRI is what a bug names in Needs for containerd's CRI service (the
// API kubelet drives: pod sandboxes) and relapse's pause image, made
// without a registry, as the sandbox image.
const NeedCRI = "cri"

// criSection is the CRI plugin's configuration for the daemon: the
// cluster's (cluster.CRIConfig: relapse's pause image, the runc under
// test as the only runtime, in the layout the version reads), with CNI
// directories of the run's own. Pods the kit runs use the node's network,
// so no CNI plugin is ever called.
func criSection(art versions.Artifact, runc, dir string) string {
	return cluster.CRIConfig{ContainerdVersion: art.Version, Runc: runc, RuncRoot: filepath.Join(dir, "runc"),
		CNIBinDir: filepath.Join(dir, "cni", "bin"), CNIConfDir: filepath.Join(dir, "cni", "net.d")}.TOML()
}

// startCRI imports the pause image into CRI's namespace and dials the CRI
// service; the reproducer imports the same archive.
func (k *Kit) startCRI(ctx context.Context, r *kit.Run) error {
	images, err := cluster.WorkloadImages(ctx, r.Env.CacheDir)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(images, func(s fixture.ImageSpec) bool { return s.Ref == cluster.PauseImage })
	tmp, err := os.MkdirTemp("", "relapse-pause-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	local, archive := filepath.Join(tmp, "pause.tar"), filepath.Join(r.Env.Dir, "pause.tar")
	if _, err := fixture.WriteImageArchive(local, images[i]); err != nil {
		return fmt.Errorf("making the pause image: %w", err)
	}
	if err := k.Node.CopyIn(ctx, local, archive, 0o644); err != nil {
		return err
	}
	importArgs := []string{"--address", k.Address, "--namespace", "k8s.io", "images", "import", archive}
	if err := k.Node.Command(filepath.Join(k.BinDir, "ctr"), importArgs...).Run(ctx); err != nil {
		return fmt.Errorf("importing %s: %w", cluster.PauseImage, err)
	}
	r.Script(fmt.Sprintf("%s --address %s --namespace k8s.io images import %s  # relapse's pause image (%s), made without a registry",
		k.ctr, k.Address, archive, cluster.PauseImage))
	conn, err := grpc.NewClient("unix://"+k.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("CRI client: %w", err)
	}
	r.Env.DeferCleanup("close the CRI client", func(context.Context) error { return conn.Close() })
	k.CRI = cri.NewRuntimeServiceClient(conn)
	return nil
}

// Crictl is a reproducer line running crictl (cri-tools, not shipped by
// relapse) against this daemon.
func (k *Kit) Crictl(args ...string) string {
	return fmt.Sprintf("crictl --runtime-endpoint unix://%s %s", k.Address, joinArgs(args))
}

// RunPod runs a pod sandbox of name on the node's network (no CNI) under
// the run's cgroup parent, and returns its id and config. The reproducer
// runs it with crictl from pod-<name>.json, saved with the report.
func (k *Kit) RunPod(ctx context.Context, name string) (string, *cri.PodSandboxConfig, error) {
	config := &cri.PodSandboxConfig{
		Metadata: &cri.PodSandboxMetadata{Name: name, Uid: "relapse-" + name, Namespace: "relapse"},
		Linux: &cri.LinuxPodSandboxConfig{CgroupParent: "/" + k.Cgroup + "/" + name,
			SecurityContext: &cri.LinuxSandboxSecurityContext{NamespaceOptions: &cri.NamespaceOption{Network: cri.NamespaceMode_NODE}}},
	}
	resp, err := k.CRI.RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: config})
	if err != nil {
		return "", nil, fmt.Errorf("CRI RunPodSandbox %s: %w", name, err)
	}
	k.run.Script(fmt.Sprintf(`POD=$(%s)  # pod-%s.json: {"metadata": {"name": %q, "uid": "relapse-%s", "namespace": "relapse"}, "linux": {"cgroup_parent": "/%s/%s", "security_context": {"namespace_options": {"network": 2}}}}`,
		k.Crictl("runp", "pod-"+name+".json"), name, name, name, k.Cgroup, name))
	return resp.PodSandboxId, config, nil
}

// ShimOf is the shim process serving a task or sandbox id (its command
// line names it: -id ID), if one runs.
func (k *Kit) ShimOf(ctx context.Context, id string) (evidence.Process, bool, error) {
	shims, err := k.Shims(ctx)
	if err != nil {
		return evidence.Process{}, false, err
	}
	for _, p := range shims {
		if i := slices.Index(p.Cmdline, "-id"); i >= 0 && i+1 < len(p.Cmdline) && p.Cmdline[i+1] == id {
			return p, true, nil
		}
	}
	return evidence.Process{}, false, nil
}
