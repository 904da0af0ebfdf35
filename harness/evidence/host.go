package evidence

import (
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// HostFacts describes the machine an experiment ran on.
type HostFacts struct {
	Hostname   string `json:"hostname"`
	Kernel     string `json:"kernel"`
	KernelFull string `json:"kernel_full"`
	Arch       string `json:"arch"`
	OS         string `json:"os"`
	CPUs       int    `json:"cpus"`
	MemTotal   string `json:"mem_total"`
	// Libseccomp is the version of the installed libseccomp library.
	Libseccomp string `json:"libseccomp"`
	// CgroupMode is "v1", "v2" or "hybrid".
	CgroupMode string `json:"cgroup_mode"`
	// PID1 is the comm of PID 1 (systemd or not matters to some bugs).
	PID1 string `json:"pid1"`
	// Uname is what `uname -a` prints.
	Uname string `json:"uname,omitempty"`
	// OSRelease is /etc/os-release as the bug templates ask for it.
	OSRelease string `json:"os_release,omitempty"`
	// CapBnd lists the capabilities in the bounding set, decoded.
	CapBndMissing []string `json:"cap_bnd_missing,omitempty"`
}

// LocalHostFacts reads the facts of the machine relapse runs on.
func LocalHostFacts() HostFacts {
	var f HostFacts
	f.Hostname, _ = os.Hostname()
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		f.Kernel = unix.ByteSliceToString(uts.Release[:])
		f.Arch = unix.ByteSliceToString(uts.Machine[:])
		// coreutils' uname -a on Linux: kernel name, node name, release,
		// version, machine, and the operating system.
		f.Uname = strings.Join([]string{unix.ByteSliceToString(uts.Sysname[:]), unix.ByteSliceToString(uts.Nodename[:]),
			f.Kernel, unix.ByteSliceToString(uts.Version[:]), f.Arch, "GNU/Linux"}, " ")
	}
	if v, err := os.ReadFile("/proc/version"); err == nil {
		f.KernelFull = strings.TrimSpace(string(v))
	}
	f.OS = osRelease("/etc/os-release")
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		f.OSRelease = strings.TrimSpace(string(data))
	}
	f.CPUs = runtime.NumCPU()
	f.MemTotal = meminfoTotal()
	f.Libseccomp = LibseccompVersion()
	f.CgroupMode = cgroupMode()
	if comm, err := os.ReadFile("/proc/1/comm"); err == nil {
		f.PID1 = strings.TrimSpace(string(comm))
	}
	f.CapBndMissing = missingBoundingCaps()
	return f
}

func osRelease(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func meminfoTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// LibseccompVersion asks pkg-config, then dpkg, for the libseccomp version.
func LibseccompVersion() string {
	if out, err := exec.Command("pkg-config", "--modversion", "libseccomp").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "libseccomp2").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return "unknown"
}

func cgroupMode() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	if unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "hybrid"
	}
	return "v1"
}

// missingBoundingCaps names the capabilities absent from relapse's own
// bounding set: a container cannot be given them (CAP_SYS_RESOURCE is
// missing on some CI machines).
func missingBoundingCaps() []string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			have := map[string]bool{}
			for _, c := range DecodeCaps(v) {
				have[c] = true
			}
			var missing []string
			for _, c := range CapabilityNames {
				if !have[c] {
					missing = append(missing, c)
				}
			}
			return missing
		}
	}
	return nil
}

// FreshPipeSize is the capacity the kernel gives a new pipe of this
// process now: 16 pages normally, fewer once the user is over
// fs.pipe-user-pages-soft, another page size on other machines. Checks
// compare with it instead of assuming 65536 bytes.
func FreshPipeSize() (int, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return 0, err
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	return unix.FcntlInt(uintptr(fds[0]), unix.F_GETPIPE_SZ, 0)
}
