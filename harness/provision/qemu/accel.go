package qemu

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/relapse-dev/relapse/harness/vm"
)

// Accel is the accelerator qemu will use, and why.
type Accel struct {
	Name string // "kvm" or "tcg"
	Why  string
}

// Args are qemu's accelerator and CPU options.
func (a Accel) Args() []string {
	if a.Name == "kvm" {
		return []string{"-accel", "kvm", "-cpu", "host"}
	}
	return []string{"-accel", "tcg,thread=multi", "-cpu", "max"}
}

const (
	kvmGetAPIVersion = 0xAE00
	kvmCreateVM      = 0xAE01
)

// ChooseAccel decides between KVM and TCG for a guest kernel. Existence of
// /dev/kvm proves nothing: it must open, create a VM, and - on a PVM host
// (paravirtualised KVM, module kvm_pvm) - the guest must be a PVM guest,
// or Debian kernels crawl in the decompressor or stop with an emulation
// failure. RELAPSE_QEMU_ACCEL=kvm|tcg overrides the choice.
func ChooseAccel(k vm.Kernel) Accel {
	if forced := os.Getenv("RELAPSE_QEMU_ACCEL"); forced == "kvm" || forced == "tcg" {
		return Accel{forced, "forced by RELAPSE_QEMU_ACCEL=" + forced}
	}
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return Accel{"tcg", "software emulation: /dev/kvm cannot be opened (" + err.Error() + ")"}
	}
	defer unix.Close(fd)
	if v, err := unix.IoctlRetInt(fd, kvmGetAPIVersion); err != nil || v != 12 {
		return Accel{"tcg", "software emulation: /dev/kvm does not speak KVM API 12"}
	}
	vmfd, err := unix.IoctlRetInt(fd, kvmCreateVM)
	if err != nil {
		return Accel{"tcg", "software emulation: KVM_CREATE_VM failed on /dev/kvm (" + err.Error() + ")"}
	}
	unix.Close(vmfd)
	if isPVMHost() && !k.HasConfig("CONFIG_PVM_GUEST") {
		return Accel{"tcg", "software emulation: this host's /dev/kvm is PVM (module kvm_pvm), which runs only kernels built with CONFIG_PVM_GUEST; " +
			k.Release + " is not one (under KVM it would crawl in the decompressor or stop with an emulation failure)"}
	}
	return Accel{"kvm", "KVM: /dev/kvm created a VM and can run this kernel"}
}

func isPVMHost() bool {
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return true
	}
	mods, _ := os.ReadFile("/proc/modules")
	return strings.Contains(string(mods), "kvm_pvm ")
}
