package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestCRIConfigIsContainerdTOML(t *testing.T) {
	text := "version = 2\n" + CRIConfig{Runc: "/usr/local/sbin/runc", RuncRoot: "/r", SystemdCgroup: true,
		CNIBinDir: "/cni/bin", CNIConfDir: "/cni/net.d", Snapshotter: "overlayfs"}.TOML()
	var doc struct {
		Version int `toml:"version"`
		Plugins map[string]struct {
			SandboxImage        string `toml:"sandbox_image"`
			RestrictOOMScoreAdj bool   `toml:"restrict_oom_score_adj"`
			Containerd          struct {
				Snapshotter string `toml:"snapshotter"`
				Runtimes    map[string]struct {
					Options map[string]any `toml:"options"`
				} `toml:"runtimes"`
			} `toml:"containerd"`
			CNI struct {
				BinDir  string `toml:"bin_dir"`
				ConfDir string `toml:"conf_dir"`
			} `toml:"cni"`
		} `toml:"plugins"`
	}
	if _, err := toml.Decode(text, &doc); err != nil {
		t.Fatalf("not TOML: %v\n%s", err, text)
	}
	cri := doc.Plugins["io.containerd.grpc.v1.cri"]
	opts := cri.Containerd.Runtimes["runc"].Options
	if doc.Version != 2 || cri.SandboxImage != PauseImage || !cri.RestrictOOMScoreAdj || cri.Containerd.Snapshotter != "overlayfs" ||
		opts["BinaryName"] != "/usr/local/sbin/runc" || opts["Root"] != "/r" || opts["SystemdCgroup"] != true ||
		cri.CNI.BinDir != "/cni/bin" || cri.CNI.ConfDir != "/cni/net.d" {
		t.Errorf("decoded %+v from\n%s", doc, text)
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
