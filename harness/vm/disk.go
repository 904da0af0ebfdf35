package vm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// FilesDisk returns an ext4 image holding files (name in the image ->
// source path), made once and cached under the sources' identities
// (path, size, modification time): a rebuilt binary makes a new image.
// VM nodes get such images as read-only disks, which is how hundreds of
// MB reach a nested VM in seconds rather than minutes over ssh.
func FilesDisk(ctx context.Context, cacheRoot, label string, files map[string]string) (image string, built bool, err error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := []string{label}
	var total int64
	for _, n := range names {
		st, err := os.Stat(files[n])
		if err != nil {
			return "", false, fmt.Errorf("disk %s: %w", label, err)
		}
		total += st.Size()
		parts = append(parts, n, files[n], strconv.FormatInt(st.Size(), 10), st.ModTime().UTC().String())
	}
	dir := filepath.Join(cacheRoot, "vm", "disks", label+"-"+HashKey(parts...))
	built, err = CachedDir(ctx, dir, func(ctx context.Context, tmp string) error {
		tree := filepath.Join(tmp, "tree")
		for _, n := range names {
			dst := filepath.Join(tree, n)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			// A hard link when the cache shares the sources' file system.
			if err := os.Link(files[n], dst); err != nil {
				data, rerr := os.ReadFile(files[n])
				if rerr != nil {
					return rerr
				}
				if err := os.WriteFile(dst, data, 0o755); err != nil {
					return err
				}
			}
		}
		size := total + total/5 + 64<<20
		if err := Run(ctx, "", nil, "mkfs.ext4", "-q", "-F", "-L", label, "-d", tree, filepath.Join(tmp, "disk.ext4"), strconv.FormatInt(size>>10, 10)+"k"); err != nil {
			return fmt.Errorf("making disk %s: %w", label, err)
		}
		return os.RemoveAll(tree)
	})
	if err != nil {
		return "", false, err
	}
	return filepath.Join(dir, "disk.ext4"), built, nil
}
