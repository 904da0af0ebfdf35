package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/client-go/kubernetes"

	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Images made offline and imported into containerd's k8s.io namespace.
const (
	PauseImage   = "relapse.local/pause:1"
	BusyboxImage = "relapse.local/busybox:1"
)

// KubeletSysctls are the kernel parameters kubelet rewrites at start
// (kernel-wide, not per namespace): journaled first and put back.
var KubeletSysctls = []string{"kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory", "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes"}

// Options choose a cluster: the Kubernetes build, the runc under test and
// how the node runs pods.
type Options struct {
	// BinDir holds kubelet, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kubectl of one version.
	BinDir  string
	Version string
	// Runc is the runc under test, containerd's runtime binary.
	Runc string
	// StallCRI puts a CRIProxy between kubelet and containerd.
	StallCRI bool
	// CNI is the pod network plugin (CNIBridge when empty).
	CNI string
	// Runtime is kubelet's runtime (RuntimeContainerd when empty).
	Runtime string
	// ContainerdDir holds the ContainerdBinaries of ContainerdVersion,
	// the containerd kubelet's CRI runs on ("" for the node's own).
	ContainerdDir     string
	ContainerdVersion string
	// FeatureGates are kubelet's feature gates, set in its configuration
	// (FeatureGatesParam); none when empty.
	FeatureGates map[string]bool
}

// ContainerdBinaries are what a cluster's containerd is made of, all of
// one build: the daemon, the shim it starts runc through, and ctr, which
// imports the offline images.
var ContainerdBinaries = []string{"containerd", "containerd-shim-runc-v2", "ctr"}

// ContainerdBinary is the path of one of the ContainerdBinaries, the
// node's own (on its PATH) when no build was given.
func (o Options) ContainerdBinary(name string) string {
	if o.ContainerdDir == "" {
		return name
	}
	return filepath.Join(o.ContainerdDir, name)
}

// Dockershim reports whether kubelet runs its built-in docker support.
func (o Options) Dockershim() bool { return o.Runtime == RuntimeDockershim }

// ImageArchiveName is the file name of an image's archive.
func ImageArchiveName(ref string) string {
	return strings.NewReplacer("/", "_", ":", "_").Replace(ref) + ".tar"
}

// WorkloadImages are the images every cluster gets without a registry:
// the sandbox (a static pause program) and the pods' busybox. /init in
// busybox is relapse's reporting init (fixtures/init): a pod that runs it
// prints whether no_new_privs and the shrunk pipes were in force.
func WorkloadImages(ctx context.Context, cacheDir string) ([]fixture.ImageSpec, error) {
	pause, err := fixture.BuildPause(ctx, cacheDir)
	if err != nil {
		return nil, err
	}
	initBin, err := fixture.BuildInit(ctx, cacheDir)
	if err != nil {
		return nil, err
	}
	busybox := map[string]fixture.ImageFile{"bin/busybox": {Source: "/bin/busybox"}, "init": {Source: initBin}}
	for _, applet := range []string{"sh", "date", "echo", "sleep", "true", "false", "cat", "ls", "ip", "hostname", "env", "ps"} {
		busybox["bin/"+applet] = fixture.ImageFile{Link: "busybox"}
	}
	return []fixture.ImageSpec{
		{Ref: PauseImage, Files: map[string]fixture.ImageFile{"pause": {Source: pause}}, Entrypoint: []string{"/pause"}},
		{Ref: BusyboxImage, Files: busybox, Cmd: []string{"sh"}},
	}, nil
}

// Minor is the minor version of "v1.30.14" (0 if it cannot be read).
func Minor(version string) int {
	parts := strings.Split(strings.TrimPrefix(version, "v"), ".")
	if len(parts) < 2 {
		return 0
	}
	m, _ := strconv.Atoi(parts[1])
	return m
}

// WaitNodeReady waits up to within for node to be Ready; explain says
// what to look at when it is not. A node that is not Ready in time is a
// failed setup (INCONCLUSIVE), never a verdict.
func WaitNodeReady(ctx context.Context, env *scenario.Env, client kubernetes.Interface, node string, within time.Duration, explain func(context.Context) string) error {
	var st nodeready.ReadyState
	var last error
	err := Poll(ctx, within, time.Second, func(ctx context.Context) bool {
		st, last = nodeready.NodeReadyState(ctx, client, node)
		return last == nil && st.Ready
	})
	switch {
	case err == nil:
		env.Event("node Ready", st.Message)
		return nil
	case errors.Is(err, ErrPollDeadline):
		return fmt.Errorf("node %s not Ready after %s (%v %s); %s", node, within, last, st.Message, explain(ctx))
	}
	return err
}

// WaitServiceAccount waits for the controller-manager to make the default
// service account: until then every pod is refused.
func WaitServiceAccount(ctx context.Context, client kubernetes.Interface) error {
	var last error
	err := Poll(ctx, 2*time.Minute, 500*time.Millisecond, func(ctx context.Context) bool {
		_, last = client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return last == nil
	})
	if errors.Is(err, ErrPollDeadline) {
		return fmt.Errorf("no default service account after 2 min: %w", last)
	}
	return err
}

// cgroupV1FailsFrom is the first kubelet that refuses to start on a
// cgroup v1 host unless told otherwise (failCgroupV1 defaults to true from
// 1.35; the field exists from 1.31).
const cgroupV1FailsFrom = 35

// KubeletCgroupV1 is the KubeletConfiguration line that lets kubelet run
// on a cgroup v1 or hybrid host (this kind of host: v1 controllers, cgroup2
// only at /sys/fs/cgroup/unified), for the versions that refuse it by
// default; "" for the others. On a cgroup v2 node kubelet ignores it.
func KubeletCgroupV1(version string) string {
	if Minor(version) < cgroupV1FailsFrom {
		return ""
	}
	return "failCgroupV1: false\n"
}
