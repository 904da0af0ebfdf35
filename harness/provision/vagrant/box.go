package vagrant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/node/local"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/vm"
	files "github.com/relapse-dev/relapse/vagrant"
)

// vagrantHome is relapse's own VAGRANT_HOME: its boxes and plugins state
// stay out of the user's ~/.vagrant.d.
func vagrantHome(cacheRoot string) string { return filepath.Join(cacheRoot, "vagrant", "home") }

// box is the Vagrant box a node comes up from.
type box struct {
	name, fact string
	// kernel is known only for relapse's own box.
	kernel vm.Kernel
	// rootfs is what relapse's own box was made of: its ssh host keys are
	// the ones to pin. Nil for the user's box, whose keys relapse never saw.
	rootfs *vm.Rootfs
}

// ensureBox returns the box to bring up: the user's BOX as it is, or
// relapse's own, built offline and added once per root filesystem and kernel.
func (h *hostSide) ensureBox(ctx context.Context, spec provision.Spec) (box, error) {
	home := vagrantHome(h.rn.CacheDir)
	if spec.Box != "" {
		out, err := local.New().Command("vagrant", "box", "list").SetEnv("VAGRANT_HOME=" + home).Output(ctx)
		if err != nil {
			return box{}, err
		}
		if !strings.Contains(string(out), spec.Box+" ") {
			return box{}, fmt.Errorf("box %s is not in relapse's Vagrant home %s; add it first: VAGRANT_HOME=%s vagrant box add %s (needs a registry of boxes; boxes there now:\n%s)",
				spec.Box, home, home, spec.Box, out)
		}
		return box{name: spec.Box, fact: spec.Box + " (the user's)"}, nil
	}
	ks, err := vm.ParseKernel(spec.Kernel, "")
	if err != nil {
		return box{}, err
	}
	kernel, err := vm.FetchKernel(ctx, h.rn.CacheDir, ks, h.rn.Logf)
	if err != nil {
		return box{}, err
	}
	rootfs, err := vm.BuildRootfs(ctx, h.rn.CacheDir, h.rn.Logf)
	if err != nil {
		return box{}, err
	}
	// The name pins everything the box is made of: root filesystem, the
	// script's own version, and the kernel.
	sum := sha256.Sum256(files.BuildBoxScript)
	name := "relapse/bookworm-" + rootfs.Key + "-" + hex.EncodeToString(sum[:3]) + "-" + strings.ReplaceAll(kernel.Release, "+", "-")
	marker := filepath.Join(h.rn.CacheDir, "vagrant", "boxes", strings.ReplaceAll(name, "/", "_"))
	var seconds float64
	built, err := vm.CachedDir(ctx, marker, func(ctx context.Context, tmp string) error {
		start := time.Now()
		h.rn.Logf("building Vagrant box %s (vagrant/build-box.sh, ~1 min)", name)
		script := filepath.Join(tmp, "build-box.sh")
		if err := os.WriteFile(script, files.BuildBoxScript, 0o755); err != nil {
			return err
		}
		boxFile := filepath.Join(tmp, "box.box")
		bctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := local.New().Command(script, rootfs.Tree, filepath.Dir(kernel.Initrd), kernel.Release, boxFile).Run(bctx); err != nil {
			return err
		}
		if err := local.New().Command("vagrant", "box", "add", "--force", "--name", name, boxFile).
			SetEnv("VAGRANT_HOME="+home, "VAGRANT_CHECKPOINT_DISABLE=1").Run(bctx); err != nil {
			return err
		}
		seconds = time.Since(start).Seconds()
		return os.Remove(boxFile)
	})
	if err != nil {
		return box{}, fmt.Errorf("building relapse's Vagrant box: %w", err)
	}
	how := "from cache"
	if built {
		how = fmt.Sprintf("built and added in %.1f s", seconds)
	}
	return box{name: name, kernel: kernel, rootfs: &rootfs,
		fact: fmt.Sprintf("%s (relapse's own: root filesystem %s, systemd %s, kernel %s; %s)", name, rootfs.Key, rootfs.Versions["systemd"], kernel.Release, how)}, nil
}
