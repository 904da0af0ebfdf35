package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/semver"
	"k8s.io/client-go/kubernetes"

	"github.com/relapse-dev/relapse/fixtures"
	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/node"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Cluster is a running single-node cluster as scenarios see it, whichever
// provider made it. Every path is a path on Node: the local host's for
// bare clusters there and for kind (a node container's files through
// /proc/PID/root), the VM's for bare clusters on a VM node (Pull fetches
// a directory's contents to the same local path).
type Cluster struct {
	// Node is the machine the paths below are on.
	Node node.Node
	// Provider made the cluster ("bare", "kind").
	Provider string
	Version  string
	NodeName string
	Client   kubernetes.Interface
	// CNILedger is the log of every CNI call the bridge wrapper saw.
	CNILedger string
	// IPAMDir is host-local's allocation directory.
	IPAMDir string
	// ContainerdSocket is the CRI endpoint of containerd itself.
	ContainerdSocket string
	// SeccompDir is where kubelet looks up Localhost seccomp profiles
	// (seccompProfile.localhostProfile is relative to it).
	SeccompDir string
	// Runc is the runc under test as its processes show it on the host
	// (the command line's first word: bare clusters run the build itself,
	// kind nodes their copy of it).
	Runc string
	// KubeletLog is kubelet's log file on Node ("" when the provider
	// keeps it elsewhere, as kind's node containers do).
	KubeletLog string
	// Proxy stands between kubelet and containerd when asked for.
	Proxy *CRIProxy
	// Setup describes the cluster for the report.
	Setup []report.Fact
	// ManualSetup is a shell snippet that makes the same kind of cluster
	// by hand ("" when there is no shorter way than the report's facts).
	ManualSetup string
}

// Provider makes the one-node cluster a scenario runs on.
type Provider interface {
	Name() string
	// Describe is one line for the cluster parameter's help.
	Describe() string
	// Start brings the cluster up for the run, registering every undo with
	// it; a failure says which step did not finish and why.
	Start(ctx context.Context, env *scenario.Env, o Options) (*Cluster, error)
}

// NodeBinDir is where a VM node mounts the disk with the cluster's
// binaries (not under /opt or /run: daemons get tmpfs there).
const NodeBinDir = "/mnt/relapse-k8s"

// CheckRuntime: dockershim is kubelet's own, on bare clusters on the
// local node (VM nodes have no dockerd) before 1.24.
func CheckRuntime(node, runtime, clusterProvider, version string) error {
	if runtime != RuntimeDockershim {
		return nil
	}
	if node != "local" {
		return fmt.Errorf("runtime=dockershim runs on the local node only (VM nodes have no dockerd), not on PROVIDER=%s; use runtime=containerd", node)
	}
	if clusterProvider != "" && clusterProvider != "bare" {
		return fmt.Errorf("runtime=dockershim runs on bare clusters only (kind nodes run containerd), not cluster=%s", clusterProvider)
	}
	if Minor(version) >= 24 {
		return fmt.Errorf("runtime=dockershim needs Kubernetes < 1.24 (dockershim was removed in 1.24), not %s; use runtime=containerd, or KUBERNETES=1.19.3 or 1.19.4", version)
	}
	return nil
}

// JournalKubeletSysctls records the kernel parameters kubelet rewrites at
// start (kernel-wide, not per namespace, even from inside a privileged
// container) on the run's node, so that they are put back, even after a
// killed run.
func JournalKubeletSysctls(ctx context.Context, env *scenario.Env) error {
	for _, key := range KubeletSysctls {
		cur, err := node.ReadSysctl(ctx, env.Node, key)
		if err != nil {
			continue
		}
		if err := (chaos.Sysctl{Key: key, Value: cur}).Apply(ctx, env.Run); err != nil {
			return err
		}
	}
	return nil
}

// CRIConfig is the CRI plugin section of a containerd configuration for
// a cluster: relapse's pause image, the runc under test as the only
// runtime, relapse's CNI directories. Its layout follows the containerd
// that reads it (ConfigVersion): containerd 2.0 split the CRI plugin into
// an images, a runtime and a gRPC plugin and reads configuration version
// 3; 1.x reads version 2, where one io.containerd.grpc.v1.cri plugin holds
// everything.
type CRIConfig struct {
	// ContainerdVersion is the version of the containerd that reads the
	// configuration ("v2.4.2"; "" for a 1.x, such as Debian's).
	ContainerdVersion string
	Runc              string
	// RuncRoot is runc's state root ("" for runc's default).
	RuncRoot      string
	SystemdCgroup bool
	CNIBinDir     string
	CNIConfDir    string
	// Snapshotter is written out when set (kind's entrypoint rewrites the
	// line when overlayfs cannot be used).
	Snapshotter string
}

// ContainerdConfigVersion is the configuration version a containerd reads
// natively: 3 from 2.0 on (2.x migrates version 2 at every start and warns
// that it is deprecated), 2 before. A version that cannot be read is taken
// as 1.x, the containerd a node brings when none is built.
func ContainerdConfigVersion(containerdVersion string) int {
	v := containerdVersion
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if semver.IsValid(v) && semver.Compare(v, "v2.0.0-0") >= 0 {
		return 3
	}
	return 2
}

// ConfigVersion is the configuration version the section is written for.
func (c CRIConfig) ConfigVersion() int { return ContainerdConfigVersion(c.ContainerdVersion) }

// criPlugins are the plugin tables a configuration version puts the CRI
// settings in: images (snapshotter, sandbox image), runtime (runtimes,
// CNI, the host tolerances).
type criPlugins struct {
	images, runtime string
	// sandboxImage and hugetlb are the keys 2.x renamed.
	sandboxImage, hugetlb string
	// cniBinDir is bin_dir in 1.x; 2.x takes a list, bin_dirs.
	cniBinDir func(string) string
}

func (c CRIConfig) plugins() criPlugins {
	if c.ConfigVersion() >= 3 {
		return criPlugins{images: `plugins."io.containerd.cri.v1.images"`, runtime: `plugins."io.containerd.cri.v1.runtime"`,
			sandboxImage: "pinned_images.sandbox", hugetlb: "tolerate_missing_hugetlb_controller",
			cniBinDir: func(d string) string { return fmt.Sprintf("bin_dirs = [%q]", d) }}
	}
	cri := `plugins."io.containerd.grpc.v1.cri"`
	return criPlugins{images: cri, runtime: cri, sandboxImage: "sandbox_image", hugetlb: "tolerate_missing_hugepages_controller",
		cniBinDir: func(d string) string { return fmt.Sprintf("bin_dir = %q", d) }}
}

// TOML renders the section, without the version line (Document adds it).
// restrict_oom_score_adj is always on: the host may not let containerd
// lower a container's oom_score_adj.
func (c CRIConfig) TOML() string {
	p := c.plugins()
	var b strings.Builder
	// The images table comes first: in 1.x it is the runtime's table too,
	// and a table may be opened only once.
	fmt.Fprintf(&b, "\n[%s]\n  %s = %q\n", p.images, p.sandboxImage, PauseImage)
	if c.Snapshotter != "" && p.images != p.runtime {
		fmt.Fprintf(&b, "  snapshotter = %q\n", c.Snapshotter)
	}
	if p.images != p.runtime {
		fmt.Fprintf(&b, "\n[%s]\n", p.runtime)
	}
	fmt.Fprintf(&b, "  restrict_oom_score_adj = true\n  %s = true\n  [%s.containerd]\n", p.hugetlb, p.runtime)
	if c.Snapshotter != "" && p.images == p.runtime {
		fmt.Fprintf(&b, "    snapshotter = %q\n", c.Snapshotter)
	}
	fmt.Fprintf(&b, `    default_runtime_name = "runc"
    [%[1]s.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [%[1]s.containerd.runtimes.runc.options]
        BinaryName = %[2]q
        SystemdCgroup = %[3]v
`, p.runtime, c.Runc, c.SystemdCgroup)
	if c.RuncRoot != "" {
		fmt.Fprintf(&b, "        Root = %q\n", c.RuncRoot)
	}
	fmt.Fprintf(&b, "  [%s.cni]\n    %s\n    conf_dir = %q\n", p.runtime, p.cniBinDir(c.CNIBinDir), c.CNIConfDir)
	return b.String()
}

// Document is a whole configuration: the version line, extra (top-level
// keys and other plugins' tables, in the same layout) and the CRI section.
func (c CRIConfig) Document(extra string) string {
	return fmt.Sprintf("version = %d\n", c.ConfigVersion()) + extra + c.TOML()
}

// CNI plugins a cluster can run its pods' network with.
const (
	// CNIBridge is bridge + host-local (host-local releases by container
	// ID, so it never leaks).
	CNIBridge = "bridge"
	// CNINetnsLookup is relapse's TEST plugin (fixtures/cni): it finds the
	// IP to release through the pod's netns, like the seed's VPC plugin.
	CNINetnsLookup = "netns-lookup"
)

// CNIParam chooses the plugin for scenarios that count IPs.
var CNIParam = scenario.ChoiceParam("cni", CNIBridge, "pod network: bridge (bridge + host-local) or netns-lookup (TEST plugin from fixtures/cni that, like the seed's VPC plugin, looks a pod's IP up through its netns on DEL, so a DEL without the netns leaks it)", CNIBridge, CNINetnsLookup)

// Container runtimes a bare cluster's kubelet can use.
const (
	RuntimeContainerd = "containerd"
	// RuntimeDockershim is kubelet's built-in docker support (before 1.24)
	// on relapse's dockerd: the seed's runtime for kubernetes#92613.
	RuntimeDockershim = "dockershim"
)

// RuntimeParam chooses kubelet's runtime.
var RuntimeParam = scenario.ChoiceParam("runtime", RuntimeContainerd, "kubelet's container runtime: containerd (CRI) or dockershim (kubelet's own docker support, Kubernetes < 1.24, bare clusters; kubelet runs CNI itself and tears a stopped sandbox down without its netns)", RuntimeContainerd, RuntimeDockershim)

// CNIDescription says in the report what the pods' network was.
func CNIDescription(plugin string) string {
	if plugin == CNINetnsLookup {
		return "relapse-netns-lookup (TEST plugin, fixtures/cni: finds the IP to release through the pod's netns)"
	}
	return "bridge + host-local"
}

// CNIFiles is the network a cluster's containerd uses, with relapse's
// ledger wrapper in front of the main plugin: it appends every call
// (command, container, netns, interface, exit status, result) to the
// ledger. Files are written under HostDir; their contents name NodeDir,
// the same directory as the node sees it (equal for bare clusters, the
// node's filesystem for kind). bridge and the others come from the node's
// /usr/lib/cni (Debian's containernetworking-plugins).
type CNIFiles struct {
	HostDir, NodeDir string
	// Plugin is CNIBridge (the default) or CNINetnsLookup.
	Plugin string
}

// Ledger and IPAM are host paths of the ledger and the allocations.
func (c CNIFiles) Ledger() string { return filepath.Join(c.HostDir, "ledger.log") }
func (c CNIFiles) IPAM() string   { return filepath.Join(c.HostDir, "ipam") }

// ConfDir and BinDir are containerd's CNI directories, as the node sees them.
func (c CNIFiles) ConfDir() string { return filepath.Join(c.NodeDir, "net.d") }
func (c CNIFiles) BinDir() string  { return filepath.Join(c.NodeDir, "bin") }

// Write puts the plugins, both behind the ledger, and the configuration
// of c.Plugin in place.
func (c CNIFiles) Write() error {
	if err := c.WritePlugins(); err != nil {
		return err
	}
	return c.WriteConf()
}

// WriteConf writes the network configuration for c.Plugin; containerd
// reloads it when it changes.
func (c CNIFiles) WriteConf() error {
	ipam := filepath.Join(c.NodeDir, "ipam")
	conf := fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "relapse", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "dataDir": %q}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}`, ipam)
	switch c.Plugin {
	case "", CNIBridge:
	case CNINetnsLookup:
		conf = fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "relapse", "plugins": [
  {"type": "relapse-netns-lookup", "dataDir": %q, "subnet": "10.244.0"}]}`, ipam)
	default:
		return fmt.Errorf("unknown CNI plugin %q (known: %s, %s)", c.Plugin, CNIBridge, CNINetnsLookup)
	}
	if err := os.MkdirAll(filepath.Join(c.HostDir, "net.d"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.HostDir, "net.d", "10-relapse.conflist"), []byte(conf), 0o644)
}

// WritePlugins installs the plugin links, the test plugin and a ledger
// wrapper in front of each main plugin.
func (c CNIFiles) WritePlugins() error {
	for _, d := range []string{"bin", "ipam"} {
		if err := os.MkdirAll(filepath.Join(c.HostDir, d), 0o755); err != nil {
			return err
		}
	}
	for _, plugin := range []string{"host-local", "loopback", "portmap"} {
		if err := os.Symlink("/usr/lib/cni/"+plugin, filepath.Join(c.HostDir, "bin", plugin)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(c.HostDir, "bin", "netns-lookup.realPlugin"), fixtures.NetnsLookupPlugin, 0o755); err != nil {
		return err
	}
	for name, realPlugin := range map[string]string{"bridge": "/usr/lib/cni/bridge",
		"relapse-netns-lookup": filepath.Join(c.BinDir(), "netns-lookup.realPlugin")} {
		wrapper := fmt.Sprintf(`#!/bin/sh
# relapse's CNI ledger: one line per call, then the realPlugin plugin's answer.
out=$(%s); rc=$?
ip=$(printf '%%s' "$out" | tr -d ' 
' | grep -o '"address":"[^"]*"' | head -1 | cut -d'"' -f4)
printf '%%s %%s %%s netns=%%s if=%%s rc=%%s ip=%%s
' "$(date +%%s.%%N)" "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$rc" "$ip" >> %s
printf '%%s' "$out"
exit $rc
`, realPlugin, filepath.Join(c.NodeDir, "ledger.log"))
		if err := os.WriteFile(filepath.Join(c.HostDir, "bin", name), []byte(wrapper), 0o755); err != nil {
			return err
		}
	}
	return nil
}
