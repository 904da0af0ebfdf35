package kind

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/yaml"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/redact"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// ProviderName is the cluster parameter's value for kind.
const ProviderName = "kind"

// Deadlines: kind's Create takes no context, so relapse bounds it and
// stops the dockerd under it when it runs over (which ends every docker
// call kind is waiting on).
const (
	createTimeout = 8 * time.Minute
	deleteTimeout = 2 * time.Minute
	logsTimeout   = 1 * time.Minute
)

// criProxyDir is where the CRI proxy's socket appears inside the node
// (a bind mount of a run directory) when the scenario stalls the CRI.
const criProxyDir = "/relapse-cri"

// noProxy is kind's kubeProxyMode "none" (a constant only its internal
// API names): no kube-proxy, whose image cannot be made offline.
const noProxy v1alpha4.ProxyMode = "none"

// hostRuntime is the runc relapse's dockerd runs the node container with:
// Debian's. The runc under test runs the pods, inside the node.
const hostRuntime = "/usr/sbin/runc"

// requiredTools are checked before anything on the host changes.
var requiredTools = map[string]string{
	"docker": "docker.io", "dockerd": "docker.io", hostRuntime: "runc", "debootstrap": "debootstrap",
	"ldd": "libc-bin", "/usr/bin/etcd": "etcd-server",
}

// Provider makes kind clusters.
type Provider struct{}

func (Provider) Name() string { return ProviderName }
func (Provider) Describe() string {
	return "sigs.k8s.io/kind on relapse's own dockerd, with a node image built offline; local node only"
}

// Start makes a one-node kind cluster for the run.
func (Provider) Start(ctx context.Context, env *scenario.Env, o cluster.Options) (*cluster.Cluster, error) {
	return Start(ctx, env, o)
}

// Start makes a one-node kind cluster for the run. Every step registers
// its undo with env, newest first: kind's delete, then dockerd (and with it
// every container it ran), the cgroup parent, the network namespace.
func Start(ctx context.Context, env *scenario.Env, o cluster.Options) (*cluster.Cluster, error) {
	if env.Node.Provider() != "local" {
		return nil, fmt.Errorf("kind clusters run on the local node's docker, not on %s", env.Node.Name())
	}
	for tool, pkg := range requiredTools {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("kind clusters need %s (Debian package %s; `make deps-k8s`)", tool, pkg)
		}
	}
	var img NodeImage
	if err := env.Timed("kind: node image", o.Version, func() (err error) {
		img, err = BuildNodeImage(ctx, env.CacheDir, o, env.Logf)
		return err
	}); err != nil {
		return nil, err
	}
	k := &kindCluster{env: env, o: o, img: img, dir: filepath.Join(env.Dir, "kind"), name: "relapse-" + env.Short()}
	if err := os.MkdirAll(k.dir, 0o755); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"dockerd", k.startDocker},
		{"node image import", k.importImage},
		{"kind create cluster", k.create},
		{"client", k.connect},
		{"node Ready", func(ctx context.Context) error {
			return cluster.WaitNodeReady(ctx, env, k.c.Client, k.c.NodeName, 3*time.Minute, k.explain)
		}},
		{"default service account", func(ctx context.Context) error { return cluster.WaitServiceAccount(ctx, k.c.Client) }},
		{"coredns", k.quietCoreDNS},
	}
	for _, s := range steps {
		if err := env.Timed("kind: "+s.name, o.Version, func() error { return s.fn(ctx) }); err != nil {
			return nil, fmt.Errorf("kind cluster, %s: %w", s.name, err)
		}
	}
	k.describe()
	return &k.c, nil
}

// kindCluster is one kind cluster being made.
type kindCluster struct {
	env    *scenario.Env
	o      cluster.Options
	img    NodeImage
	dir    string
	name   string
	docker *daemons.Docker
	kind   *kindcluster.Provider
	config []byte
	// pid is the node container's init, through which the host reaches
	// the node's files (/proc/PID/root) and network (/proc/PID/ns/net).
	pid  int
	pidM sync.Mutex
	c    cluster.Cluster
}

func (k *kindCluster) nodeName() string { return k.name + "-control-plane" }

func (k *kindCluster) startDocker(ctx context.Context) error {
	n := local.New()
	// dockerd's network namespace and the cgroup parent of the node container.
	sb, err := sandbox.New(ctx, k.env.Run, "relapse-kind")
	if err != nil {
		return err
	}
	ns, parent := sb.Netns, sb.Cgroup
	// The node container is privileged: it asks for every capability, and
	// runc refuses one the host's bounding set lacks. The agent drops those
	// from the bundle before runc sees it.
	runtime := filepath.Join(k.dir, "bounded-runc")
	if err := agent.WriteBoundedRuntime(ctx, k.env.CacheDir, runtime, hostRuntime); err != nil {
		return err
	}
	d, stop, err := daemons.StartDocker(ctx, n, k.env.Journal, filepath.Join(k.dir, "docker"), ns,
		daemons.DockerOptions{Runc: runtime, CgroupParent: "/" + parent})
	if err != nil {
		return err
	}
	k.docker = d
	k.env.DeferCleanup("stop dockerd (kind's node runtime) and every container it ran", stop)
	// kind runs the docker CLI, which reads DOCKER_HOST: set for the
	// cluster's life and put back after the cluster is gone.
	prev, had := os.LookupEnv("DOCKER_HOST")
	if err := os.Setenv("DOCKER_HOST", "unix://"+d.Socket); err != nil {
		return err
	}
	k.env.DeferCleanup("restore DOCKER_HOST", func(context.Context) error {
		if had {
			return os.Setenv("DOCKER_HOST", prev)
		}
		return os.Unsetenv("DOCKER_HOST")
	})
	return nil
}

func (k *kindCluster) importImage(ctx context.Context) error {
	return k.docker.ImportTree(ctx, k.img.Tree, k.img.Ref, k.img.Changes)
}

// kindConfig is the cluster kind makes: one node from relapse's image, no
// kindnetd (the image carries its CNI), no kube-proxy, and kubelet pointed
// at the CRI proxy when the scenario stalls the runtime.
func (k *kindCluster) kindConfig() *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name: k.name, Networking: v1alpha4.Networking{DisableDefaultCNI: true, KubeProxyMode: noProxy},
		Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: k.img.Ref}}}
	if k.o.StallCRI {
		cfg.Nodes[0].ExtraMounts = []v1alpha4.Mount{{HostPath: filepath.Join(k.dir, "cri"), ContainerPath: criProxyDir}}
		cfg.KubeadmConfigPatches = []string{fmt.Sprintf("kind: InitConfiguration\nnodeRegistration:\n  criSocket: unix://%s/cri-proxy.sock\n", criProxyDir)}
	}
	if lines := cluster.KubeletCgroupV1(k.o.Version) + cluster.KubeletFeatureGates(k.o.FeatureGates); lines != "" {
		cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, "kind: KubeletConfiguration\n"+lines)
	}
	return cfg
}

func (k *kindCluster) create(ctx context.Context) error {
	if err := cluster.JournalKubeletSysctls(ctx, k.env); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(k.env.ReportDir, "kind.log"))
	if err != nil {
		return err
	}
	k.env.Report.Files = append(k.env.Report.Files, report.File{Name: "kind.log", Path: "kind.log",
		Description: "everything the kind library logged, at every level (kubeadm init's output included)"})
	k.env.DeferCleanup("close kind's log", func(context.Context) error { return logFile.Close() })
	k.kind = kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(newLogger(logFile)))
	cfg := k.kindConfig()
	if k.config, err = yaml.Marshal(cfg); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(k.dir, "kind-config.yaml"), k.config, 0o644); err != nil {
		return err
	}
	if k.o.StallCRI {
		if err := k.startProxy(ctx); err != nil {
			return err
		}
	}
	kubeconfig := filepath.Join(k.dir, "kubeconfig")
	k.env.DeferCleanup("kind delete cluster "+k.name, func(ctx context.Context) error {
		return bounded(ctx, deleteTimeout, "kind delete cluster", func() error { return k.kind.Delete(k.name, kubeconfig) })
	})
	err = bounded(ctx, createTimeout, "kind create cluster", func() error {
		return k.kind.Create(k.name, kindcluster.CreateWithV1Alpha4Config(cfg), kindcluster.CreateWithKubeconfigPath(kubeconfig),
			kindcluster.CreateWithRetain(true), kindcluster.CreateWithWaitForReady(0),
			kindcluster.CreateWithDisplayUsage(false), kindcluster.CreateWithDisplaySalutation(false))
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, k.collectLogs(ctx))
	}
	return nil
}

// collectLogs saves kind's node logs (journal, kubelet, containerd, pods)
// into the report and says where they are.
func (k *kindCluster) collectLogs(ctx context.Context) string {
	dir := filepath.Join(k.env.ReportDir, "kind-logs")
	err := bounded(ctx, logsTimeout, "kind export logs", func() error { return k.kind.CollectLogs(k.name, dir) })
	if _, statErr := os.Stat(dir); statErr != nil {
		return fmt.Sprintf("kind's node logs could not be collected (%v); kind's own log is in the report (kind.log)", err)
	}
	// docker inspect of the node holds the host's proxy variables,
	// credentials included: out before anything reads the directory.
	if _, rerr := redact.Files(dir); rerr != nil {
		err = errors.Join(err, rerr)
	}
	k.env.Report.Files = append(k.env.Report.Files, report.File{Name: "kind-logs/", Path: "kind-logs",
		Description: "kind export logs: the node's journal, kubelet, containerd, pod logs, docker inspect"})
	// Some of kind's log commands fail on every node of this image (no
	// crictl): what was collected is still worth reading.
	if err != nil {
		return fmt.Sprintf("node logs (kind export logs, partly: %v): %s; kind's own log: kind.log in the report", err, dir)
	}
	return "node logs (kind export logs): " + dir + "; kind's own log: kind.log in the report"
}

func (k *kindCluster) explain(ctx context.Context) string { return k.collectLogs(ctx) }

// bounded runs fn (which cannot be cancelled) and gives up after within;
// the caller's cleanup then stops dockerd, which makes fn return.
func bounded(ctx context.Context, within time.Duration, what string, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s did not finish in %s", what, within)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// nodePID is the node container's init PID (looked up once it runs).
func (k *kindCluster) nodePID(ctx context.Context) (int, error) {
	k.pidM.Lock()
	defer k.pidM.Unlock()
	if k.pid != 0 {
		return k.pid, nil
	}
	info, err := k.docker.Client.ContainerInspect(ctx, k.nodeName())
	if err != nil {
		return 0, fmt.Errorf("docker inspect %s: %w", k.nodeName(), err)
	}
	if info.State == nil || info.State.Pid == 0 {
		return 0, fmt.Errorf("node container %s is not running", k.nodeName())
	}
	k.pid = info.State.Pid
	return k.pid, nil
}

// startProxy puts the CRI proxy on a socket in a directory the node
// mounts; it reaches the node's containerd through /proc/PID/root once the
// node runs (kubelet is the first to call, after kubeadm starts it).
func (k *kindCluster) startProxy(ctx context.Context) error {
	dir := filepath.Join(k.dir, "cri")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := &cluster.CRIProxy{Listen: filepath.Join(dir, "cri-proxy.sock"), Upstream: "/run/containerd/containerd.sock", // the node's; Dial finds it
		Dial: func(ctx context.Context, _ string) (net.Conn, error) {
			pid, err := k.nodePID(ctx)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "unix", fmt.Sprintf("/proc/%d/root/run/containerd/containerd.sock", pid))
		}}
	if err := p.Start(ctx); err != nil {
		return err
	}
	k.env.DeferCleanup("stop the CRI proxy", func(context.Context) error { p.Stop(); return nil })
	k.c.Proxy = p
	return nil
}

// connect builds client-go from kind's kubeconfig, dialing the API server
// inside the node's network namespace (the published port is in dockerd's
// namespace, and nothing is published on the host).
func (k *kindCluster) connect(ctx context.Context) error {
	pid, err := k.nodePID(ctx)
	if err != nil {
		return err
	}
	raw, err := k.kind.KubeConfig(k.name, false)
	if err != nil {
		return fmt.Errorf("kind get kubeconfig: %w", err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(raw))
	if err != nil {
		return err
	}
	cfg.Host = "https://127.0.0.1:6443"
	cfg.Dial = sandbox.DialIn(fmt.Sprintf("/proc/%d/ns/net", pid))
	cfg.Timeout = 30 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	root := fmt.Sprintf("/proc/%d/root", pid)
	cni := cluster.CNIFiles{HostDir: root + cniDir, NodeDir: cniDir, Plugin: k.o.CNI}
	// The image's network is bridge + host-local; another plugin's
	// configuration replaces it before the first pod (containerd reloads).
	if k.o.CNI != "" && k.o.CNI != cluster.CNIBridge {
		if err := cni.WriteConf(); err != nil {
			return err
		}
	}
	proxy := k.c.Proxy
	// The node container's files are read through /proc/PID/root: local paths.
	k.c = cluster.Cluster{Node: local.New(), Provider: ProviderName, Version: k.o.Version, NodeName: k.nodeName(), Client: client,
		CNILedger: cni.Ledger(), IPAMDir: cni.IPAM(), ContainerdSocket: root + "/run/containerd/containerd.sock",
		SeccompDir: root + "/var/lib/kubelet/seccomp", Runc: runcPath, Proxy: proxy}
	return nil
}

// quietCoreDNS scales CoreDNS to zero: kubeadm always deploys it, no image
// of it can be made offline, and its pull failures would be noise in
// every event list. Nothing relapse runs resolves names.
func (k *kindCluster) quietCoreDNS(ctx context.Context) error {
	deployments := k.c.Client.AppsV1().Deployments("kube-system")
	err := cluster.Poll(ctx, time.Minute, time.Second, func(ctx context.Context) bool {
		_, err := deployments.UpdateScale(ctx, "coredns", &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"}, Spec: autoscalingv1.ScaleSpec{Replicas: 0}},
			metav1.UpdateOptions{})
		return err == nil
	})
	if errors.Is(err, cluster.ErrPollDeadline) {
		return errors.New("could not scale the coredns Deployment to 0 within 1 min")
	}
	if err == nil {
		k.env.Event("coredns scaled to 0", "kubeadm deploys it; no image of it exists offline")
	}
	return err
}

// describe records how the cluster was made, and how to make it by hand.
func (k *kindCluster) describe() {
	img := k.img
	cached := map[bool]string{true: "cached", false: fmt.Sprintf("built in %.0f s", img.BuildSeconds)}[img.Cached]
	sock := k.docker.Socket
	containerd := "Debian's " + img.Packages["containerd"]
	if k.o.ContainerdDir != "" {
		containerd = k.o.ContainerdVersion + " (relapse's build over Debian's binaries)"
	}
	k.env.Stack("containerd configuration", fmt.Sprintf("version %d (/etc/containerd/config.toml in the node image)", cluster.ContainerdConfigVersion(k.o.ContainerdVersion)))
	k.c.Setup = []report.Fact{
		{Name: "cluster", Value: fmt.Sprintf("kind %s, one control-plane node %s, Kubernetes %s (kubeadm init), kubeProxyMode none, no kindnetd; CNI %s through relapse's ledger wrapper",
			img.KindVersion, k.nodeName(), k.o.Version, cluster.CNIDescription(k.o.CNI))},
		{Name: "kind node image", Value: fmt.Sprintf("%s (%s; %s): Debian %s root filesystem, containerd %s, systemd %s, libseccomp2 %s, runc under test at %s, kind's base files from %s@%s",
			img.Ref, cached, img.Dir, "bookworm", containerd, img.Packages["systemd"], img.Packages["libseccomp2"], runcPath, kindModule, img.KindVersion)},
		{Name: "preloaded images", Value: strings.Join(img.Images, ", ") + "; not available offline: " + strings.Join(img.Skipped, ", ")},
		{Name: "kind's docker", Value: fmt.Sprintf("dockerd (Debian) on %s in network namespace %s, node container runtime %s through relapse-agent %s (capabilities outside the host's bounding set dropped)", sock, "relapse-kind-"+k.env.Short(), hostRuntime, agent.BoundedRuntimeCommand)},
		{Name: "kind config", Value: strings.TrimSpace(string(k.config))},
		{Name: "reach the node", Value: fmt.Sprintf("DOCKER_HOST=unix://%s docker exec -it %s bash   (kubectl is there, KUBECONFIG=/etc/kubernetes/admin.conf)", sock, k.nodeName())},
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/kind/kubeadm.conf", k.pid)); err == nil {
		// Its bootstrap token is a credential, whatever kind makes it.
		if err := os.WriteFile(filepath.Join(k.env.ReportDir, "kubeadm.conf"), []byte(redact.Text(string(data))), 0o644); err == nil {
			k.env.Report.Files = append(k.env.Report.Files, report.File{Name: "kubeadm.conf", Path: "kubeadm.conf",
				Description: "the kubeadm configuration kind generated for the node (/kind/kubeadm.conf)"})
		}
	}
	k.c.ManualSetup = fmt.Sprintf(`# The same cluster with the kind CLI, from relapse's node image (tree: %s):
#   tar -C %s -c . | docker import --change 'ENV container=docker' \
#     --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' - %s
#   kind create cluster --config kind-config.yaml   (the "kind config" fact of this report)
`, img.Tree, img.Tree, img.Ref)
}
