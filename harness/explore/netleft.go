package explore

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/relapse-dev/relapse/harness/detect"
)

// cniNetnsPrefix starts the name containerd's CRI gives a pod sandbox's
// network namespace (cni-<uuid>); other entries of the same directory
// (relapse's own cluster namespace, the host's) are not the pods'.
const cniNetnsPrefix = "cni-"

// cniNames keeps the pod sandbox netns names of a directory listing.
func cniNames(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, cniNetnsPrefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// newEntries are the names in after that were not in before.
func newEntries(before, after []string) []string {
	var out []string
	for _, n := range after {
		if !slices.Contains(before, n) {
			out = append(out, n)
		}
	}
	return out
}

// netnsMounts are the pod sandbox network namespaces pinned in a mount
// namespace, read from its /proc/PID/mountinfo: nsfs mounts of a network
// namespace on a cni-* file (containerd's CRI bind-mounts each sandbox's namespace there and
// unmounts it when the sandbox's network is torn down).
func netnsMounts(mountinfo string) []string {
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, fs := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(fs) == 0 || fs[0] != "nsfs" {
			continue
		}
		if strings.HasPrefix(f[3], "net:") && strings.HasPrefix(filepath.Base(f[4]), cniNetnsPrefix) {
			out = append(out, f[4])
		}
	}
	return out
}

// ipLeftovers describes the host-local reservations still held once every
// pod is deleted: with no sandbox left, each one is leaked.
func ipLeftovers(allocs []detect.Allocation) []string {
	var out []string
	for _, a := range detect.LeakedIPs(allocs, nil) {
		out = append(out, fmt.Sprintf("IP %s reserved in network %s for sandbox %s (%s)", a.IP, a.Network, a.ContainerID, a.Ifname))
	}
	return out
}
