package vm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// initrdLayout is bumped whenever the initramfs changes.
const initrdLayout = "i2"

// initrdWanted are the drivers a qemu node needs before its root is
// mounted: the virtio bus, disk and network (loaded here, so the NIC is
// there when systemd-networkd starts), entropy, and ext4 when it is a module.
var initrdWanted = []string{"virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "ext4"}

// initScript is the initramfs's /init (busybox sh): load the drivers, mount
// the node's root (vda) and this kernel's modules (vdb, read-only), and hand
// over to systemd.
const initScript = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/mod/$m" || echo "relapse-initramfs: insmod $m failed"; done < /mod/order
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
	echo "relapse-initramfs: cannot mount the root disk /dev/vda"
	poweroff -f
fi
mount -t ext4 -o ro /dev/vdb /newroot/lib/modules || echo "relapse-initramfs: no modules disk on /dev/vdb"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
`

// buildInitramfs writes a gzip'd newc cpio with busybox, the init script
// and the wanted modules (with their dependencies, in load order); it
// returns the modules it took.
func buildInitramfs(ctx context.Context, modDir, out string) ([]string, error) {
	deps, err := readModulesDep(modDir)
	if err != nil {
		return nil, err
	}
	order, err := loadOrder(deps, readBuiltin(modDir), initrdWanted)
	if err != nil {
		return nil, fmt.Errorf("%w in %s", err, modDir)
	}
	root, err := os.MkdirTemp(filepath.Dir(out), "initramfs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	for _, d := range []string{"bin", "proc", "sys", "dev", "newroot", "mod"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := Run(ctx, "", nil, "cp", "/bin/busybox", filepath.Join(root, "bin/busybox")); err != nil {
		return nil, err
	}
	for _, applet := range []string{"sh", "mount", "umount", "insmod", "sleep", "switch_root", "poweroff", "echo"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "init"), []byte(initScript), 0o755); err != nil {
		return nil, err
	}
	var names []string
	for i, path := range order {
		name := fmt.Sprintf("%02d-%s", i, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
		if err := copyModule(ctx, filepath.Join(modDir, path), filepath.Join(root, "mod", name+".ko")); err != nil {
			return nil, err
		}
		names = append(names, name+".ko")
	}
	if err := os.WriteFile(filepath.Join(root, "mod/order"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	// Without /dev/console in the initramfs the kernel has no console for init.
	if err := Run(ctx, "", nil, "mknod", "-m", "600", filepath.Join(root, "dev/console"), "c", "5", "1"); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	pack := fmt.Sprintf("find . -print0 | cpio --null -o -H newc -R 0:0 --quiet | gzip -1 > %s", shellQuote(abs))
	if err := Run(ctx, root, nil, "sh", "-c", pack); err != nil {
		return nil, err
	}
	return names, nil
}

// loadOrder lists the module files to insmod for the wanted modules,
// dependencies first, skipping modules built into the kernel.
func loadOrder(deps map[string][]string, builtin map[string]bool, wanted []string) ([]string, error) {
	var order []string
	seen := map[string]bool{}
	var visit func(path string)
	visit = func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		for _, d := range deps[path] {
			visit(d)
		}
		order = append(order, path)
	}
	for _, name := range wanted {
		if builtin[name] {
			continue
		}
		path, ok := findModule(deps, name)
		if !ok {
			return nil, fmt.Errorf("%s: %w (neither built in nor in modules.dep)", name, errNoModule)
		}
		visit(path)
	}
	return order, nil
}

// copyModule copies a module into the initramfs, decompressed: busybox's
// insmod takes plain ELF only.
func copyModule(ctx context.Context, src, dst string) error {
	switch {
	case strings.HasSuffix(src, ".xz"):
		return Run(ctx, "", nil, "sh", "-c", "xz -dc "+shellQuote(src)+" > "+shellQuote(dst))
	case strings.HasSuffix(src, ".zst"):
		return Run(ctx, "", nil, "sh", "-c", "zstd -qdc "+shellQuote(src)+" > "+shellQuote(dst))
	case strings.HasSuffix(src, ".gz"):
		return Run(ctx, "", nil, "sh", "-c", "gzip -dc "+shellQuote(src)+" > "+shellQuote(dst))
	}
	return Run(ctx, "", nil, "cp", src, dst)
}

// readModulesDep parses modules.dep: module path -> the paths it needs.
func readModulesDep(modDir string) (map[string][]string, error) {
	data, err := os.ReadFile(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("reading modules.dep (was depmod run?): %w", err)
	}
	return parseModulesDep(string(data)), nil
}

func parseModulesDep(data string) map[string][]string {
	deps := map[string][]string{}
	for _, line := range strings.Split(data, "\n") {
		mod, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps
}

func readBuiltin(modDir string) map[string]bool {
	data, _ := os.ReadFile(filepath.Join(modDir, "modules.builtin"))
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" {
			out[moduleName(line)] = true
		}
	}
	return out
}

// moduleName is a module's name from its path: kernel/fs/ext4/ext4.ko.xz -> ext4.
func moduleName(path string) string {
	base := filepath.Base(path)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

func findModule(deps map[string][]string, name string) (string, bool) {
	for path := range deps {
		if moduleName(path) == name {
			return path, true
		}
	}
	return "", false
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
