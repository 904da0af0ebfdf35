package bare

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/daemons"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// NodeName is the one node of a bare cluster.
const NodeName = "relapse-node"

// nodeIP is the node's address on a veth interface in the cluster's
// namespace: kubelet refuses a loopback node IP. It never leaves the namespace.
const nodeIP = "10.250.0.1"

// Bare is a running single-node cluster.
type Bare struct {
	cluster.Cluster
	Dir        string
	Netns      *sandbox.Netns
	Kubeconfig string
	daemons    map[string]*sandbox.Daemon
	// docker is dockershim's engine (nil with containerd).
	docker      *daemons.Docker
	env         *scenario.Env
	cgroupRoot  string
	createdDirs string
	// apiserverReady is how long kube-apiserver took to answer /readyz here.
	apiserverReady time.Duration
}

// Provider makes bare clusters.
type Provider struct{}

func (Provider) Name() string { return "bare" }
func (Provider) Describe() string {
	return "relapse runs each component itself (etcd, control plane, kubelet, containerd or dockershim) in namespaces of its own, on the local node or a qemu VM node"
}

// Start brings a bare cluster up for the run.
func (Provider) Start(ctx context.Context, env *scenario.Env, o cluster.Options) (*cluster.Cluster, error) {
	b, err := Start(ctx, env, o)
	if err != nil {
		return nil, err
	}
	return &b.Cluster, nil
}

// Start brings a cluster up for the run; every step registers its undo
// with the run, newest first.
func Start(ctx context.Context, env *scenario.Env, o cluster.Options) (*Bare, error) {
	n := env.Node
	if err := checkNodeTools(ctx, n); err != nil {
		return nil, err
	}
	if err := cluster.CheckRuntime(n.Provider(), o.Runtime, "bare", o.Version); err != nil {
		return nil, err
	}
	b := &Bare{Dir: filepath.Join(env.Dir, "k8s"), env: env, daemons: map[string]*sandbox.Daemon{}}
	b.Node, b.Provider, b.Version, b.NodeName, b.Runc = n, "bare", o.Version, NodeName, o.Runc
	b.SeccompDir = b.path("kubelet", "root", "seccomp")
	if err := b.mirrorRunDir(); err != nil {
		return nil, err
	}
	dirs := []string{"pki", "etcd", "containerd", "kubelet", "pods", "images"}
	for _, d := range dirs {
		if err := os.MkdirAll(b.path(d), 0o755); err != nil {
			return nil, err
		}
	}
	if cluster.OnVM(n) {
		if err := n.Command("mkdir", append([]string{"-p"}, prefixed(b.Dir, dirs)...)...).Run(ctx); err != nil {
			return nil, err
		}
		if err := b.useNodeBinaries(ctx, &o); err != nil {
			return nil, err
		}
		b.Runc = o.Runc
	}
	ns, err := sandbox.NewNetns(ctx, env.Run, "relapse-k8s-"+env.Short())
	if err != nil {
		return nil, err
	}
	b.Netns = ns
	// A veth pair whose both ends stay in the namespace (some kernels have
	// no dummy driver) carries the node IP. No default route: nothing in
	// the cluster has anywhere to send a packet but the namespace itself.
	if err := n.Command("ip", "-n", ns.Name, "link", "add", "relapse0", "type", "veth", "peer", "name", "relapse1").Run(ctx); err != nil {
		return nil, err
	}
	for _, args := range [][]string{{"addr", "add", nodeIP + "/24", "dev", "relapse0"}, {"link", "set", "relapse0", "up"},
		{"link", "set", "relapse1", "up"}} {
		if err := n.Command("ip", append([]string{"-n", ns.Name}, args...)...).Run(ctx); err != nil {
			return nil, err
		}
	}
	// The pods' cgroup root, removed after every daemon is stopped (and
	// what still runs in it killed): registered before any of them. On
	// cgroup v2 its controllers must be enabled at the root first.
	if err := sandbox.EnableRootControllers(ctx, env.Run); err != nil {
		return nil, err
	}
	b.cgroupRoot = "relapse-k8s-" + env.Short()
	if err := sandbox.CgroupParent(ctx, env.Run, b.cgroupRoot); err != nil {
		return nil, err
	}
	b.createdDirs = b.path("created-host-dirs")
	if _, err := env.Own(ctx, "remove host directories the cluster needed", "host-dirs", map[string]string{"list": b.createdDirs}, nil,
		func(ctx context.Context) error { return removeCreatedDirs(ctx, n, b.createdDirs) }); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		fn   func(context.Context, cluster.Options) error
	}{
		{"certificates", b.pki},
		{"etcd", b.startEtcd},
		{"kube-apiserver", b.startAPIServer},
		{"kube-controller-manager", b.startControllerManager},
		{"kube-scheduler", b.startScheduler},
		{"container runtime", b.startRuntime},
		{"images", b.importImages},
		{"kubelet", b.startKubelet},
		{"node Ready", b.waitNodeReady},
		{"default service account", b.waitServiceAccount},
	}
	for _, s := range steps {
		began := time.Now()
		if err := env.Timed("cluster: "+s.name, o.Version, func() error { return s.fn(ctx, o) }); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", s.name, err)
		}
		if s.name == "kube-apiserver" {
			b.apiserverReady = time.Since(began)
		}
	}
	b.Setup = b.setup(o)
	b.recordStack(ctx, o)
	return b, nil
}

// recordStack records the versions of the daemons the cluster runs as
// they print them (Debian's etcd and, for the CRI, containerd).
func (b *Bare) recordStack(ctx context.Context, o cluster.Options) {
	daemons := [][]string{{"etcd", "etcd", "--version"}}
	if o.Runtime != cluster.RuntimeDockershim {
		daemons = append(daemons, []string{"containerd (kubelet's CRI runtime)", o.ContainerdBinary("containerd"), "--version"})
	}
	for _, d := range daemons {
		out, err := b.Node.Command(d[1], d[2:]...).Output(ctx)
		if err == nil {
			b.env.Stack(d[0], textutil.FirstLine(strings.TrimSpace(string(out))))
		}
	}
}

// within scales a readiness deadline chosen on an idle host for this
// node now: VM nodes run under software emulation here, where
// kube-apiserver 1.19 needed more than 90 s to be ready (1.30: 54 s; the
// host: 3 s), and once the apiserver came up, later waits get at least
// twenty times what it took (a loaded machine is slow at everything).
func (b *Bare) within(d time.Duration) time.Duration {
	if cluster.OnVM(b.Node) {
		d *= 4
	}
	return max(d, 20*b.apiserverReady)
}

func (b *Bare) path(p ...string) string { return filepath.Join(append([]string{b.Dir}, p...)...) }

func (b *Bare) pki(ctx context.Context, o cluster.Options) error {
	dir := b.path("pki")
	ca, err := cluster.NewCA(dir)
	if err != nil {
		return err
	}
	issue := func(name, cn string, orgs []string, hosts ...string) cluster.KeyPair {
		if err != nil {
			return cluster.KeyPair{}
		}
		var kp cluster.KeyPair
		kp, err = ca.Issue(dir, name, cn, orgs, hosts...)
		return kp
	}
	server := "https://127.0.0.1:6443"
	issue("apiserver", "kube-apiserver", nil, "127.0.0.1", nodeIP, "10.96.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
	ids := map[string]cluster.KeyPair{
		"admin":              issue("admin", "relapse-admin", []string{"system:masters"}),
		"controller-manager": issue("controller-manager", "system:kube-controller-manager", nil),
		"scheduler":          issue("scheduler", "system:kube-scheduler", nil),
		"kubelet":            issue("kubelet-client", "system:node:"+NodeName, []string{"system:nodes"}),
	}
	issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"})
	issue("kubelet-serving", "system:node:"+NodeName, []string{"system:nodes"}, "127.0.0.1", nodeIP, NodeName)
	if err != nil {
		return err
	}
	if _, err := cluster.ServiceAccountKey(dir); err != nil {
		return err
	}
	for who, kp := range ids {
		if err := cluster.Kubeconfig(b.path("pki", who+".kubeconfig"), server, ca.CertFile, kp); err != nil {
			return err
		}
	}
	b.Kubeconfig = b.path("pki", "admin.kubeconfig")
	return cluster.PushTree(ctx, b.Node, dir)
}

// daemon starts one cluster process in the cluster's namespace.
func (b *Bare) daemon(ctx context.Context, name string, argv []string, prelude string, ready func(context.Context) error) error {
	dir := b.path(name)
	if err := b.Node.Command("mkdir", "-p", dir).Run(ctx); err != nil {
		return err
	}
	d := &sandbox.Daemon{Node: b.Node, Name: name, Dir: dir, Netns: b.Netns, Argv: argv, Ready: ready,
		Socket: filepath.Join(dir, "unused.sock"), Log: filepath.Join(dir, name+".log"), Prelude: prelude}
	stop, err := d.Start(ctx, b.env.Journal, b.within(90*time.Second))
	if err != nil {
		return err
	}
	b.daemons[name] = d
	b.env.DeferCleanup("stop "+name, stop)
	return nil
}

// httpsOK is a readiness check of a component's /healthz or /readyz from
// inside the namespace, as the cluster admin.
func (b *Bare) httpsOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		cert, err := tls.LoadX509KeyPair(b.path("pki", "admin.crt"), b.path("pki", "admin.key"))
		if err != nil {
			return err
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: x509.NewCertPool()}
		caPEM, err := os.ReadFile(b.path("pki", "ca.crt"))
		if err != nil {
			return err
		}
		tc.RootCAs.AppendCertsFromPEM(caPEM)
		// The controller-manager and scheduler serve self-signed
		// certificates of their own (--cert-dir): those are only checked
		// for answering, the API server against the cluster CA.
		tc.InsecureSkipVerify = !strings.Contains(url, ":6443/")
		return b.getOK(ctx, tc, url)
	}
}

// httpOK is a readiness check of a plain-HTTP health endpoint inside the
// namespace (etcd, kubelet's healthz).
func (b *Bare) httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error { return b.getOK(ctx, nil, url) }
}

// getOK GETs url from inside the cluster's namespace and wants 200.
func (b *Bare) getOK(ctx context.Context, tc *tls.Config, url string) error {
	hc := &http.Client{Transport: &http.Transport{DialContext: b.Netns.DialContext, TLSClientConfig: tc}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func (b *Bare) startEtcd(ctx context.Context, _ cluster.Options) error {
	return b.daemon(ctx, "etcd", []string{"etcd", "--name", "relapse", "--data-dir", b.path("etcd", "data"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "relapse=http://127.0.0.1:2380", "--listen-metrics-urls", "http://127.0.0.1:2381"}, "",
		b.httpOK("http://127.0.0.1:2379/health"))
}

func (b *Bare) startAPIServer(ctx context.Context, o cluster.Options) error {
	pki := func(f string) string { return b.path("pki", f) }
	return b.daemon(ctx, "kube-apiserver", []string{filepath.Join(o.BinDir, "kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379", "--bind-address=0.0.0.0", "--secure-port=6443", "--advertise-address=" + nodeIP,
		"--client-ca-file=" + pki("ca.crt"), "--tls-cert-file=" + pki("apiserver.crt"), "--tls-private-key-file=" + pki("apiserver.key"),
		"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"), "--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority=" + pki("ca.crt"),
		"--service-account-key-file=" + pki("sa.pub"), "--service-account-signing-key-file=" + pki("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc", "--service-cluster-ip-range=10.96.0.0/24",
		"--authorization-mode=Node,RBAC", "--allow-privileged=true", "--profiling=false",
		// Reach kubelet at its node IP: a host name would be looked up in
		// the host's DNS, which the cluster must never talk to.
		"--kubelet-preferred-address-types=InternalIP",
		"--cert-dir=" + b.path("kube-apiserver", "certs")}, "", b.httpsOK("https://127.0.0.1:6443/readyz"))
}

func (b *Bare) startControllerManager(ctx context.Context, o cluster.Options) error {
	kc := b.path("pki", "controller-manager.kubeconfig")
	return b.daemon(ctx, "kube-controller-manager", []string{filepath.Join(o.BinDir, "kube-controller-manager"),
		"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--service-account-private-key-file=" + b.path("pki", "sa.key"), "--root-ca-file=" + b.path("pki", "ca.crt"),
		"--use-service-account-credentials=true", "--leader-elect=false", "--bind-address=127.0.0.1",
		"--cert-dir=" + b.path("kube-controller-manager", "certs")}, "", b.httpsOK("https://127.0.0.1:10257/healthz"))
}

func (b *Bare) startScheduler(ctx context.Context, o cluster.Options) error {
	kc := b.path("pki", "scheduler.kubeconfig")
	return b.daemon(ctx, "kube-scheduler", []string{filepath.Join(o.BinDir, "kube-scheduler"),
		"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--cert-dir=" + b.path("kube-scheduler", "certs")}, "",
		b.httpsOK("https://127.0.0.1:10259/healthz"))
}

// startRuntime starts containerd, or dockerd for dockershim.
func (b *Bare) startRuntime(ctx context.Context, o cluster.Options) error {
	if err := b.cni(ctx, o); err != nil {
		return err
	}
	if o.Dockershim() {
		return b.startDocker(ctx, o)
	}
	return b.startContainerd(ctx, o)
}

// startDocker runs relapse's dockerd (Debian's, with the runc under test as
// its default runtime) in the cluster's namespace for kubelet's dockershim;
// dockershim's CRI socket is where sandboxes are listed.
func (b *Bare) startDocker(ctx context.Context, o cluster.Options) error {
	// dockershim asks oom_score_adj -998 for every sandbox, which this host
	// may refuse (no CAP_SYS_RESOURCE): the runc under test runs through
	// relapse-agent's bounded-runtime, which raises it first.
	runtime := b.path("bounded-runc")
	if err := agent.WriteBoundedRuntime(ctx, b.env.CacheDir, runtime, o.Runc); err != nil {
		return err
	}
	d, stop, err := daemons.StartDocker(ctx, b.Node, b.env.Journal, b.path("docker"), b.Netns,
		daemons.DockerOptions{Runc: runtime, CgroupParent: "/" + b.cgroupRoot})
	if err != nil {
		return err
	}
	b.docker = d
	b.env.DeferCleanup("stop dockerd (dockershim's engine) and every container it ran", stop)
	b.ContainerdSocket = b.path("kubelet", "dockershim.sock")
	return nil
}

// startContainerd runs the cluster's containerd (the build of
// o.ContainerdVersion, or the node's own) with the CRI plugin in the
// layout that version reads, the runc under test as its runtime, and CNI
// through relapse's ledger wrapper.
func (b *Bare) startContainerd(ctx context.Context, o cluster.Options) error {
	dir := b.path("containerd")
	b.ContainerdSocket = filepath.Join(dir, "containerd.sock")
	cni := cluster.CNIFiles{HostDir: b.path("cni"), NodeDir: b.path("cni")}
	cri := cluster.CRIConfig{ContainerdVersion: o.ContainerdVersion, Runc: o.Runc, RuncRoot: filepath.Join(dir, "runc"),
		CNIBinDir: cni.BinDir(), CNIConfDir: cni.ConfDir()}
	config := cri.Document(fmt.Sprintf(`root = %q
state = %q

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), b.ContainerdSocket, filepath.Join(dir, "opt")))
	if err := b.Node.WriteFile(ctx, filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		return err
	}
	b.env.Stack("containerd configuration", fmt.Sprintf("version %d (%s)", cri.ConfigVersion(), filepath.Join(dir, "config.toml")))
	// The CRI plugin caches CNI results in /var/lib/cni whatever it is told.
	// containerd finds its shim on PATH: the build's own comes first.
	prelude := b.privateDirs("/var/lib/cni") + b.sharedPodLogs()
	if o.ContainerdDir != "" {
		prelude += "export PATH=" + textutil.ShellQuote(o.ContainerdDir) + ":$PATH\n"
	}
	d := &sandbox.Daemon{Node: b.Node, Name: "containerd", Dir: dir, Netns: b.Netns, Socket: b.ContainerdSocket,
		Log: filepath.Join(dir, "containerd.log"), Argv: []string{o.ContainerdBinary("containerd"), "--config", filepath.Join(dir, "config.toml")},
		Prelude: prelude}
	stop, err := d.Start(ctx, b.env.Journal, b.within(60*time.Second))
	if err != nil {
		return err
	}
	b.daemons["containerd"] = d
	b.env.DeferCleanup("stop containerd (CRI)", stop)
	return nil
}

// cni writes the network (cluster.CNIFiles) into the cluster's directory.
func (b *Bare) cni(ctx context.Context, o cluster.Options) error {
	files := cluster.CNIFiles{HostDir: b.path("cni"), NodeDir: b.path("cni"), Plugin: o.CNI}
	b.CNILedger, b.IPAMDir = files.Ledger(), files.IPAM()
	if err := files.Write(); err != nil {
		return err
	}
	return cluster.PushTree(ctx, b.Node, files.HostDir)
}

// importImages builds the pause and busybox images and imports them.
func (b *Bare) importImages(ctx context.Context, o cluster.Options) error {
	images, err := cluster.WorkloadImages(ctx, b.env.CacheDir)
	if err != nil {
		return err
	}
	for _, img := range images {
		archive := b.path("images", cluster.ImageArchiveName(img.Ref))
		if _, err := fixture.WriteImageArchive(archive, img); err != nil {
			return err
		}
		if b.docker != nil {
			if err := b.docker.LoadArchive(ctx, archive); err != nil {
				return err
			}
			continue
		}
		if cluster.OnVM(b.Node) {
			if err := b.Node.CopyIn(ctx, archive, archive, 0o644); err != nil {
				return err
			}
		}
		if err := b.Node.Command(o.ContainerdBinary("ctr"), "--address", b.ContainerdSocket, "-n", "k8s.io", "images", "import", archive).Run(ctx); err != nil {
			return fmt.Errorf("importing %s: %w", img.Ref, err)
		}
	}
	return nil
}

func (b *Bare) startKubelet(ctx context.Context, o cluster.Options) error {
	if err := cluster.JournalKubeletSysctls(ctx, b.env); err != nil {
		return err
	}
	endpoint := b.ContainerdSocket
	if o.StallCRI {
		var err error
		if endpoint, err = b.startCRIProxy(ctx); err != nil {
			return err
		}
	}
	pki := func(f string) string { return b.path("pki", f) }
	cgroupRoot := b.cgroupRoot
	// kubelet wants its cgroup root to exist in every hierarchy; a new v1
	// cpuset group starts with no CPUs or memory nodes, so copy the parent's.
	// On cgroup v2 (a VM node's systemd) there is one hierarchy, and the
	// directories below /sys/fs/cgroup are systemd's units.
	mk := fmt.Sprintf(`set -e
dirs="/sys/fs/cgroup/*/ /sys/fs/cgroup/"
[ -e /sys/fs/cgroup/cgroup.controllers ] && dirs=/sys/fs/cgroup/
for c in $dirs; do
  [ -e "$c/cgroup.procs" ] || continue
  mkdir -p "${c}%[1]s"
  if [ -e "$c/cpuset.cpus" ]; then cat "$c/cpuset.cpus" > "${c}%[1]s/cpuset.cpus"; cat "$c/cpuset.mems" > "${c}%[1]s/cpuset.mems"; fi
done`, cgroupRoot)
	if err := b.Node.Command("sh", "-c", mk).Run(ctx); err != nil {
		return fmt.Errorf("creating kubelet's cgroup root: %w", err)
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization: {mode: Webhook}
tlsCertFile: %q
tlsPrivateKeyFile: %q
cgroupDriver: cgroupfs
cgroupRoot: /%s
failSwapOn: false
resolvConf: ""
serializeImagePulls: false
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
protectKernelDefaults: false
`, pki("ca.crt"), pki("kubelet-serving.crt"), pki("kubelet-serving.key"), cgroupRoot)
	config += cluster.KubeletCgroupV1(o.Version) + cluster.KubeletFeatureGates(o.FeatureGates)
	args := []string{filepath.Join(o.BinDir, "kubelet"), "--config=" + b.path("kubelet", "config.yaml"),
		"--kubeconfig=" + pki("kubelet.kubeconfig"), "--root-dir=" + b.path("kubelet", "root"), "--hostname-override=" + NodeName,
		"--node-ip=" + nodeIP, "--v=2"}
	// The runtime endpoint became a config field in 1.27, when the
	// --container-runtime flag went away.
	switch {
	case o.Dockershim():
		// kubelet serves dockershim's CRI on the endpoint and runs CNI itself.
		files := cluster.CNIFiles{HostDir: b.path("cni"), NodeDir: b.path("cni")}
		args = append(args, "--container-runtime=docker", "--docker-endpoint=unix://"+b.docker.Socket,
			"--container-runtime-endpoint=unix://"+b.ContainerdSocket, "--pod-infra-container-image="+cluster.PauseImage,
			"--experimental-dockershim-root-directory="+b.path("kubelet", "dockershim"),
			"--network-plugin=cni", "--cni-bin-dir="+files.BinDir(), "--cni-conf-dir="+files.ConfDir(),
			"--cni-cache-dir="+b.path("cni", "cache"))
	case cluster.Minor(o.Version) >= 27:
		config += "containerRuntimeEndpoint: unix://" + endpoint + "\n"
	default:
		args = append(args, "--container-runtime=remote", "--container-runtime-endpoint=unix://"+endpoint)
	}
	if err := b.Node.WriteFile(ctx, b.path("kubelet", "config.yaml"), []byte(config), 0o644); err != nil {
		return err
	}
	// Paths kubelet uses whatever it is told: private in its mount
	// namespace; the pod logs directory is the same in containerd's.
	prelude := b.privateDirs("/var/lib/kubelet", "/var/log/containers") + b.sharedPodLogs()
	b.KubeletLog = b.path("kubelet-daemon", "kubelet-daemon.log")
	return b.daemon(ctx, "kubelet-daemon", args, prelude, b.httpOK("http://127.0.0.1:10248/healthz"))
}

// privateDirs is a daemon prelude that puts a tmpfs over each host path (in
// the daemon's own mount namespace) a component writes whatever it is
// told. A path that had to be created on the host for that is listed in
// a file journaled by StartBare, so teardown or repair removes it again.
func (b *Bare) privateDirs(paths ...string) string {
	return "\n" + fmt.Sprintf(`for d in %s; do
  [ -d "$d" ] || { mkdir -p "$d"; echo "$d" >> %s; }
  mount -t tmpfs -o mode=755 relapse "$d"
done`, strings.Join(paths, " "), b.createdDirs) + "\n"
}

// sharedPodLogs bind-mounts the run's pods directory over /var/log/pods:
// kubelet picks the log paths there and containerd writes them, each in
// its own mount namespace (kubelet before 1.29 cannot be told another path).
func (b *Bare) sharedPodLogs() string {
	return fmt.Sprintf(`d=/var/log/pods
[ -d "$d" ] || { mkdir -p "$d"; echo "$d" >> %s; }
mount --bind %s "$d"
`, b.createdDirs, b.path("pods"))
}

// removeCreatedDirs removes the directories listed in file on n (empty
// ones only: kubelet's content lived on tmpfs in its own namespace).
func removeCreatedDirs(ctx context.Context, n node.Node, file string) error {
	data, err := n.ReadFile(ctx, file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range strings.Fields(string(data)) {
		// Host directories a cluster needed live anywhere (/var/log/pods),
		// but never "/" nor a relative path; rmdir removes only empty ones.
		d, err := run.CheckTarget("remove the created host directory", d, "/")
		if err != nil {
			return fmt.Errorf("%s lists a directory relapse cannot have created: %w", file, err)
		}
		if err := n.Command("sh", "-c", `[ ! -e "$1" ] || rmdir "$1"`, "rmdir", d).Run(ctx); err != nil {
			return fmt.Errorf("removing %s, which a cluster created: %w", d, err)
		}
	}
	return nil
}

func init() {
	run.RegisterLocalRepairer("host-dirs", func(ctx context.Context, e run.Entry) (string, error) {
		list, err := run.RunTarget("read the list of created host directories", e.Data["list"])
		if err != nil {
			return "", err
		}
		if err := removeCreatedDirs(ctx, local.New(), list); err != nil {
			return "", err
		}
		return "removed host directories a cluster of run " + e.RunID + " created", nil
	})
}

// waitNodeReady connects client-go and waits for the node to be Ready.
func (b *Bare) waitNodeReady(ctx context.Context, o cluster.Options) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", b.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.Dial = b.Netns.DialContext
	cfg.Timeout = 30 * time.Second
	// client-go's default of 5 requests a second (burst 10) throttles a
	// scenario that watches the node and many pods at once (the chaos
	// explorer's churn), and the wait would count in what it measures;
	// the API server is this run's own.
	cfg.QPS, cfg.Burst = 50, 100
	if b.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	return cluster.WaitNodeReady(ctx, b.env, b.Client, NodeName, b.within(3*time.Minute), func(ctx context.Context) string {
		return "kubelet log:\n" + b.daemons["kubelet-daemon"].LogTail(ctx, 30)
	})
}

func (b *Bare) waitServiceAccount(ctx context.Context, _ cluster.Options) error {
	return cluster.WaitServiceAccount(ctx, b.Client)
}

func runtimeDescription(o cluster.Options) string {
	if o.Dockershim() {
		return "kubelet's dockershim on dockerd (Debian; runc through relapse-agent bounded-runtime, oom_score_adj raised to what the host grants), kubelet running CNI"
	}
	if o.ContainerdDir == "" {
		return "containerd (the node's own) CRI"
	}
	return fmt.Sprintf("containerd %s CRI (configuration version %d)", o.ContainerdVersion, cluster.ContainerdConfigVersion(o.ContainerdVersion))
}

// setup describes the cluster for the report.
func (b *Bare) setup(o cluster.Options) []report.Fact {
	where := "the local node"
	kubectl := "nsenter --net=/run/netns/" + b.Netns.Name + " kubectl --kubeconfig " + b.Kubeconfig + " get nodes"
	if cluster.OnVM(b.Node) {
		where = "VM node " + b.Node.Name() + " (binaries from a read-only disk on " + cluster.NodeBinDir + ")"
		kubectl = "nsenter --net=/run/netns/" + b.Netns.Name + " " + filepath.Join(cluster.NodeBinDir, "kubectl") + " --kubeconfig " + b.Kubeconfig + " get nodes"
		if s, ok := b.Node.(interface{ SSHCommand() string }); ok {
			kubectl = "on the node (" + s.SSHCommand() + "): " + kubectl
		}
	}
	return []report.Fact{
		{Name: "cluster", Value: fmt.Sprintf("bare single-node cluster %s on %s: etcd (Debian), kube-apiserver, controller-manager, scheduler, kubelet; %s with runc %s; CNI %s through relapse's ledger wrapper",
			o.Version, where, runtimeDescription(o), o.Runc, cluster.CNIDescription(o.CNI))},
		{Name: "cluster namespace", Value: "network namespace " + b.Netns.Name + ", node IP " + nodeIP + " on a veth inside it"},
		{Name: "kubeconfig", Value: b.Kubeconfig + " (reach the API with: " + kubectl + ")"},
	}
}
