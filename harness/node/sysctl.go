package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// SysctlPath is the /proc/sys file of a dotted kernel parameter
// ("fs.pipe-user-pages-soft").
func SysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// ReadSysctl reads a kernel parameter on a node.
func ReadSysctl(ctx context.Context, n Node, key string) (string, error) {
	b, err := n.ReadFile(ctx, SysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s on %s: %w", key, n.Name(), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// WriteSysctl sets a kernel parameter on a node.
func WriteSysctl(ctx context.Context, n Node, key, value string) error {
	if err := n.WriteFile(ctx, SysctlPath(key), []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("setting sysctl %s=%s on %s: %w", key, value, n.Name(), err)
	}
	return nil
}
