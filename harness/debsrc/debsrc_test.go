package debsrc

import (
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/versions"
)

var revert = versions.Patch{Name: "revert-11818-252.39.patch", SHA256: strings.Repeat("ab", 32), RevertsFix: "systemd#11818", Diff: "--- a/x\n+++ b/x\n"}

func TestRequestCheck(t *testing.T) {
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Package: "systemd", Version: "252.39-1~deb12u2", Recipe: Deb}, ""},
		{Request{Package: "linux", Version: "6.1.176-1", Recipe: Kernel, ConfigFragment: []byte("CONFIG_X=y\n")}, ""},
		{Request{Package: "linux", Version: "6.1.176-1", Recipe: Kernel}, "needs a Kconfig fragment"},
		{Request{Package: "Systemd!", Version: "252", Recipe: Deb}, "is not a Debian package name"},
		{Request{Package: "systemd", Version: "latest", Recipe: Deb}, `version "latest" of systemd is not a Debian version`},
		{Request{Package: "systemd", Version: "252", Recipe: "rpm"}, `unknown recipe "rpm"`},
	}
	for _, tt := range tests {
		err := tt.req.Check()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tt.req, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: error %v, want it to contain %q", tt.req, err, tt.want)
		}
	}
}

func TestNamesAndVersions(t *testing.T) {
	stock := Request{Package: "systemd", Version: "252.39-1~deb12u2", Recipe: Deb}
	if got := stock.String(); got != "systemd 252.39-1~deb12u2 (Debian source)" {
		t.Errorf("stock name %q", got)
	}
	if got := stock.LocalVersion(); got != "252.39-1~deb12u2" {
		t.Errorf("stock keeps Debian's version, got %q", got)
	}
	patched := stock
	patched.Patches = []versions.Patch{revert, {Name: "knob.patch", SHA256: strings.Repeat("cd", 32)}}
	if got := patched.String(); got != "systemd 252.39-1~deb12u2 (Debian source) with systemd#11818 reverted patched with knob.patch" {
		t.Errorf("patched name %q", got)
	}
	if got := patched.LocalVersion(); !strings.HasPrefix(got, "252.39-1~deb12u2+relapse.p") || !versionPattern.MatchString(got) {
		t.Errorf("patched version %q: want Debian's with +relapse.<patch key>, itself a Debian version", got)
	}
	if sanitize("1:2.3~rc1") != "1_2.3_rc1" {
		t.Errorf("sanitize: %q", sanitize("1:2.3~rc1"))
	}
}

func TestMissingOptions(t *testing.T) {
	fragment := "# comment\nCONFIG_VIRTIO_BLK=y\n# CONFIG_MODULES is not set\n# CONFIG_DRM is not set\nCONFIG_LOCALVERSION=\"-relapse\"\nCONFIG_GONE=y\n"
	config := "CONFIG_VIRTIO_BLK=y\n# CONFIG_MODULES is not set\nCONFIG_LOCALVERSION=\"-relapse\"\nCONFIG_DRM=y\n"
	got := strings.Join(missingOptions(fragment, config), "|")
	// DRM asked off but on, GONE asked on but absent; MODULES and the rest hold.
	if got != "# CONFIG_DRM is not set|CONFIG_GONE=y" {
		t.Errorf("missing = %q", got)
	}
	// An option asked off whose whole menu is off is absent, which is off.
	if m := missingOptions("# CONFIG_SOUND_X is not set\n", ""); len(m) != 0 {
		t.Errorf("absent off option reported: %v", m)
	}
}

func TestSourcesOneSuitePerLine(t *testing.T) {
	got := aptSources("http://mirror.example/debian")
	for _, want := range []string{
		"deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian bookworm main\n",
		"http://mirror.example/debian bookworm-updates main\n",
		securityMirror + " bookworm-security main\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sources.list lacks %q:\n%s", want, got)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if f := strings.Fields(line); len(f) != 5 {
			t.Errorf("line %q: want deb-src [opts] URI suite main", line)
		}
	}
}

func TestReproducerIsTheSameBuild(t *testing.T) {
	req := Request{Package: "systemd", Version: "252.39-1~deb12u2", Recipe: Deb, Patches: []versions.Patch{revert}}
	root := buildRootFor(req, "http://deb.debian.org/debian")
	script := reproducer(req, root.Mirror, root, debScript)
	for _, want := range []string{
		"apt-get $A source --download-only 'systemd=252.39-1~deb12u2'",
		"debootstrap --variant=buildd --include=fakeroot,debhelper,dpkg-dev,quilt bookworm \"$W/root\" http://deb.debian.org/debian",
		"build-dep -P nocheck,nodoc,noudeb,noinsttest systemd=252.39-1~deb12u2",
		"cp patches/revert-11818-252.39.patch \"$W/work/patches/01-revert-11818-252.39.patch\"   # sha256 " + revert.SHA256,
		debScript,
		"PATCHES=01-revert-11818-252.39.patch",
		"LOCAL_VERSION='252.39-1~deb12u2+relapse.p",
		"deb-src http://deb.debian.org/debian bookworm-updates main",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("reproducer lacks %q:\n%s", want, script)
		}
	}
	if kernel := buildRootFor(Request{Recipe: Kernel}, ""); kernel.Key() == root.Key() || kernel.BuildDepsOf != "" {
		t.Errorf("a kernel build root must differ from a systemd one: %+v", kernel)
	}
}
