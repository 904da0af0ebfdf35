package vm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMirrorIn(t *testing.T) {
	deb822 := "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n" +
		"Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
	oneLine := "# comment\ndeb [arch=amd64] http://skip.example/debian bookworm main\ndeb http://mirror.example/debian bookworm main\n"
	security := "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
	for name, tc := range map[string]struct{ in, want string }{
		"deb822":        {deb822, "http://mirror.example/debian"},
		"one-line":      {oneLine, "http://mirror.example/debian"},
		"only security": {security, ""},
		"no sources":    {"", ""},
		"other release": {"deb http://mirror.example/debian trixie main\n", ""},
	} {
		if got := mirrorIn(tc.in); got != tc.want {
			t.Errorf("%s: mirrorIn = %q, want %q", name, got, tc.want)
		}
	}
}

func TestParseKernel(t *testing.T) {
	for in, want := range map[string]KernelSpec{
		"6.1":                     {Requested: "6.1", ABI: "6.1.0-50", Flavour: "cloud-amd64"},
		"6.12":                    {Requested: "6.12", ABI: "6.12.117+deb12", Flavour: "cloud-amd64"},
		"":                        {Requested: "6.1", ABI: "6.1.0-50", Flavour: "cloud-amd64"},
		"6.1.0-53-amd64":          {Requested: "6.1.0-53-amd64", ABI: "6.1.0-53", Flavour: "amd64"},
		"6.12.113+deb12-rt-amd64": {Requested: "6.12.113+deb12-rt-amd64", ABI: "6.12.113+deb12", Flavour: "rt-amd64"},
	} {
		got, err := ParseKernel(in, "")
		if err != nil || got != want {
			t.Errorf("ParseKernel(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if got := (KernelSpec{ABI: "6.1.0-50", Flavour: "cloud-amd64"}).Package(); got != "linux-image-6.1.0-50-cloud-amd64" {
		t.Errorf("Package = %q", got)
	}
	for _, bad := range []string{"latest", "6.1.0-50; rm -rf /", "v6"} {
		_, err := ParseKernel(bad, "")
		if err == nil || !strings.Contains(err.Error(), "known kernels") || !strings.Contains(err.Error(), "6.12.117+deb12") {
			t.Errorf("ParseKernel(%q) error = %v, want one listing the known kernels", bad, err)
		}
	}
	if _, err := ParseKernel("/nonexistent/bzImage", ""); err == nil || !strings.Contains(err.Error(), "not a file") {
		t.Errorf("a missing bzImage: %v", err)
	}
}

func TestLoadOrder(t *testing.T) {
	deps := parseModulesDep("kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko\n" +
		"kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n" +
		"kernel/net/core/failover.ko:\n" +
		"kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko\n" +
		"kernel/drivers/virtio/virtio_ring.ko:\n" +
		"kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio_ring.ko\n")
	got, err := loadOrder(deps, map[string]bool{"ext4": true}, []string{"virtio_pci", "virtio_net", "virtio_rng", "ext4"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio_pci.ko",
		"kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko",
		"kernel/drivers/char/hw_random/virtio-rng.ko.xz"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loadOrder =\n%v\nwant\n%v", got, want)
	}
	if _, err := loadOrder(deps, nil, []string{"virtio_blk"}); !errors.Is(err, errNoModule) {
		t.Errorf("a missing module: %v", err)
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/fs/ext4/ext4.ko":                         "ext4",
		"kernel/drivers/char/hw_random/virtio-rng.ko.xz": "virtio_rng",
		"kernel/net/core/failover.ko.zst":                "failover",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFilesDisk makes a real image (mkfs.ext4 -d) and finds it cached the
// second time; a changed source makes a new one.
func TestFilesDisk(t *testing.T) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Fatal("mkfs.ext4 is needed to make disk images: install Debian's e2fsprogs (make deps)")
	}
	cache, src := t.TempDir(), filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(src, []byte("#!/bin/sh\necho one\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"bin/tool": src}
	first, built, err := FilesDisk(context.Background(), cache, "relapse-test", files)
	if err != nil || !built {
		t.Fatalf("first: %s built=%v err=%v", first, built, err)
	}
	out, err := exec.Command("debugfs", "-R", "cat /bin/tool", first).Output()
	if err == nil && !strings.Contains(string(out), "echo one") {
		t.Fatalf("image holds %q, want the source", out)
	}
	again, built, err := FilesDisk(context.Background(), cache, "relapse-test", files)
	if err != nil || built || again != first {
		t.Fatalf("second: %s built=%v err=%v, want %s from cache", again, built, err, first)
	}
	if err := os.WriteFile(src, []byte("#!/bin/sh\necho two, longer\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	changed, built, err := FilesDisk(context.Background(), cache, "relapse-test", files)
	if err != nil || !built || changed == first {
		t.Fatalf("after a change: %s built=%v err=%v, want a new image", changed, built, err)
	}
}
