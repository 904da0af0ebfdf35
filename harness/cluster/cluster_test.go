package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// criSettings is what a cluster's containerd must read from CRIConfig,
// wherever its version keeps it.
type criSettings struct {
	SandboxImage, Snapshotter, CNIConfDir string
	RestrictOOMScoreAdj, TolerateHugetlb  bool
	CNIBinDirs                            []string
	Options                               map[string]any
}

// criTable is the part of the CRI plugin tables both layouts share.
type criTable struct {
	RestrictOOMScoreAdj bool `toml:"restrict_oom_score_adj"`
	Containerd          struct {
		Snapshotter        string `toml:"snapshotter"`
		DefaultRuntimeName string `toml:"default_runtime_name"`
		Runtimes           map[string]struct {
			RuntimeType string         `toml:"runtime_type"`
			Options     map[string]any `toml:"options"`
		} `toml:"runtimes"`
	} `toml:"containerd"`
	CNI struct {
		BinDir  string   `toml:"bin_dir"`
		BinDirs []string `toml:"bin_dirs"`
		ConfDir string   `toml:"conf_dir"`
	} `toml:"cni"`
}

// decodeCRI reads a whole configuration the way containerd's version
// does: the keys 1.x knows in version 2, the keys 2.x knows in version 3.
// An undecoded key fails: containerd would ignore it, and the setting
// would be lost without a word.
func decodeCRI(t *testing.T, text string) (int, criSettings) {
	t.Helper()
	var doc struct {
		Version int    `toml:"version"`
		Root    string `toml:"root"`
		Plugins struct {
			V1 struct {
				criTable
				SandboxImage string `toml:"sandbox_image"`
				Hugepages    bool   `toml:"tolerate_missing_hugepages_controller"`
			} `toml:"io.containerd.grpc.v1.cri"`
			Runtime struct {
				criTable
				Hugetlb bool `toml:"tolerate_missing_hugetlb_controller"`
			} `toml:"io.containerd.cri.v1.runtime"`
			Images struct {
				Snapshotter  string            `toml:"snapshotter"`
				PinnedImages map[string]string `toml:"pinned_images"`
			} `toml:"io.containerd.cri.v1.images"`
		} `toml:"plugins"`
	}
	md, err := toml.Decode(text, &doc)
	if err != nil {
		t.Fatalf("not TOML: %v\n%s", err, text)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("keys no containerd of version %d reads: %v\n%s", doc.Version, u, text)
	}
	p := doc.Plugins
	var s criSettings
	var tab criTable
	if doc.Version == 3 {
		if p.V1.SandboxImage != "" || p.V1.CNI.ConfDir != "" {
			t.Errorf("version 3 with 1.x's CRI plugin table:\n%s", text)
		}
		tab = p.Runtime.criTable
		s = criSettings{SandboxImage: p.Images.PinnedImages["sandbox"], Snapshotter: p.Images.Snapshotter,
			TolerateHugetlb: p.Runtime.Hugetlb, CNIBinDirs: tab.CNI.BinDirs}
	} else {
		tab = p.V1.criTable
		s = criSettings{SandboxImage: p.V1.SandboxImage, Snapshotter: tab.Containerd.Snapshotter,
			TolerateHugetlb: p.V1.Hugepages, CNIBinDirs: []string{tab.CNI.BinDir}}
	}
	s.RestrictOOMScoreAdj, s.CNIConfDir = tab.RestrictOOMScoreAdj, tab.CNI.ConfDir
	if tab.Containerd.DefaultRuntimeName != "runc" || tab.Containerd.Runtimes["runc"].RuntimeType != "io.containerd.runc.v2" {
		t.Errorf("runc is not the default runtime of shim v2:\n%s", text)
	}
	s.Options = tab.Containerd.Runtimes["runc"].Options
	return doc.Version, s
}

// TestCRIConfigFollowsContainerdVersion: the same settings land where
// each containerd reads them: version 2 for 1.x (and Debian's, no
// version), version 3 with the split plugins for 2.x.
func TestCRIConfigFollowsContainerdVersion(t *testing.T) {
	for containerd, want := range map[string]int{"": 2, "v1.6.20": 2, "1.7.30": 2, "v2.0.0": 3, "v2.4.2": 3, "2.5.0-rc.1": 3, "main": 2} {
		c := CRIConfig{ContainerdVersion: containerd, Runc: "/usr/local/sbin/runc", RuncRoot: "/r", SystemdCgroup: true,
			CNIBinDir: "/cni/bin", CNIConfDir: "/cni/net.d", Snapshotter: "overlayfs"}
		text := c.Document("root = \"/x\"\n")
		version, got := decodeCRI(t, text)
		if version != want || c.ConfigVersion() != want {
			t.Errorf("containerd %q: configuration version %d (ConfigVersion %d), want %d", containerd, version, c.ConfigVersion(), want)
		}
		if got.SandboxImage != PauseImage || !got.RestrictOOMScoreAdj || !got.TolerateHugetlb || got.Snapshotter != "overlayfs" ||
			got.Options["BinaryName"] != "/usr/local/sbin/runc" || got.Options["Root"] != "/r" || got.Options["SystemdCgroup"] != true ||
			len(got.CNIBinDirs) != 1 || got.CNIBinDirs[0] != "/cni/bin" || got.CNIConfDir != "/cni/net.d" {
			t.Errorf("containerd %q: decoded %+v from\n%s", containerd, got, text)
		}
	}
}

func TestCNIFilesLedgerWrapsEitherPlugin(t *testing.T) {
	dir := t.TempDir()
	for _, plugin := range []string{CNIBridge, CNINetnsLookup} {
		files := CNIFiles{HostDir: filepath.Join(dir, plugin), NodeDir: "/node/cni", Plugin: plugin}
		if err := files.Write(); err != nil {
			t.Fatal(err)
		}
		conf, err := os.ReadFile(filepath.Join(files.HostDir, "net.d", "10-relapse.conflist"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{CNIBridge: `"type": "bridge"`, CNINetnsLookup: `"type": "relapse-netns-lookup"`}[plugin]
		if !strings.Contains(string(conf), want) || !strings.Contains(string(conf), `"/node/cni/ipam"`) {
			t.Errorf("%s: configuration lacks %s or the node's IPAM dir:\n%s", plugin, want, conf)
		}
		wrapper, err := os.ReadFile(filepath.Join(files.HostDir, "bin", "relapse-netns-lookup"))
		if err != nil || !strings.Contains(string(wrapper), "/node/cni/bin/netns-lookup.real") || !strings.Contains(string(wrapper), ">> /node/cni/ledger.log") {
			t.Errorf("%s: the ledger wrapper names host paths or the wrong plugin: %v\n%s", plugin, err, wrapper)
		}
	}
	if err := (CNIFiles{HostDir: dir, Plugin: "calico"}).WriteConf(); err == nil || !strings.Contains(err.Error(), "known: bridge, netns-lookup") {
		t.Errorf("unknown plugin: %v", err)
	}
}

// TestInsideAny: Pull fetches the ledger's directory once, with the IPAM
// directory below it, and a sibling on its own.
func TestInsideAny(t *testing.T) {
	dirs := []string{"/r/k8s/cni", "/r/k8s/cni/ipam", "/r/k8s/cnix"}
	for d, want := range map[string]bool{"/r/k8s/cni": false, "/r/k8s/cni/ipam": true, "/r/k8s/cnix": false} {
		if got := insideAny(d, dirs); got != want {
			t.Errorf("insideAny(%s) = %v, want %v", d, got, want)
		}
	}
}

// TestKubeletCgroupV1: only the kubelets that refuse cgroup v1 by default
// are told to run on it; older ones never see a field they do not know.
func TestKubeletCgroupV1(t *testing.T) {
	for version, want := range map[string]string{"v1.19.3": "", "v1.30.14": "", "v1.34.9": "",
		"v1.35.0": "failCgroupV1: false\n", "v1.37.2": "failCgroupV1: false\n"} {
		if got := KubeletCgroupV1(version); got != want {
			t.Errorf("KubeletCgroupV1(%s) = %q, want %q", version, got, want)
		}
	}
}
