#!/usr/bin/env bash
# Installs the Debian packages relapse needs, when they are missing.
# Used by `make deps` (which `make repro` and `make test` call) and by .ci/run;
# `ci/deps.sh vm` (make deps-vm) adds what VM and Vagrant nodes need.
set -euo pipefail

# package:what-proves-it-is-installed
needs=(
  "libseccomp-dev:/usr/include/seccomp.h"   # runc's seccomp build tag, and relapse's BPF sizing
  "pkg-config:/usr/bin/pkg-config"          # libseccomp version in reports
  "gcc:/usr/bin/gcc"                        # cgo for runc and libseccomp-golang
  "docker.io:/usr/sbin/dockerd"             # the docker engine (20.10) and the containerd it manages (1.6.20)
  "containerd:/usr/bin/containerd-shim-runc-v2"
  "iproute2:/usr/bin/ip"                    # network namespaces for the engines
  "util-linux:/usr/bin/unshare"             # private mount namespaces for the engines
  "openssh-client:/usr/bin/ssh-keygen"      # the VM nodes' key (unit tests make one)
  "libxml2-utils:/usr/bin/xmllint"          # junit.xml checked against the JUnit schema in the unit tests
  "shellcheck:/usr/bin/shellcheck"          # actionlint checks the workflow's run: scripts with it
  "chromium-headless-shell:/usr/bin/chromium-headless-shell"  # the page tests render the dashboard and reports in it
)
if [ "${1:-}" = k8s ]; then
  needs+=(
    "etcd-server:/usr/bin/etcd"                    # the clusters' etcd
    "containernetworking-plugins:/usr/lib/cni/bridge"  # bridge, host-local, portmap
    "debootstrap:/usr/sbin/debootstrap"            # the kind node image's root filesystem
    "runc:/usr/sbin/runc"                          # what relapse's dockerd runs kind's node container with
    "busybox-static:/bin/busybox"                  # the clusters' offline busybox image
  )
fi
if [ "${1:-}" = bench ]; then
  needs+=("stress-ng:/usr/bin/stress-ng")           # CPU and I/O load for the false-alarm benchmark
fi
if [ "${1:-}" = vm ]; then
  needs+=(
    "qemu-system-x86:/usr/bin/qemu-system-x86_64"  # VM nodes
    "qemu-utils:/usr/bin/qemu-img"                 # copy-on-write node disks
    "debootstrap:/usr/sbin/debootstrap"            # the nodes' root filesystem
    "e2fsprogs:/sbin/mkfs.ext4"                    # disk images without a loop device
    "busybox-static:/bin/busybox"                  # the nodes' initramfs
    "cpio:/usr/bin/cpio"
    "kmod:/usr/sbin/depmod"                        # modules.dep of unpacked kernels
    "vagrant:/usr/bin/vagrant"                     # Vagrant nodes
    "vagrant-libvirt:/usr/share/vagrant-plugins/plugins.d/vagrant-libvirt.json"
    "libvirt-daemon-system:/usr/sbin/libvirtd"     # relapse runs its own, in namespaces
    "libvirt-clients:/usr/bin/virsh"
    "dnsmasq-base:/usr/sbin/dnsmasq"               # libvirt's management network
  )
fi

missing=()
for n in "${needs[@]}"; do
  pkg=${n%%:*} path=${n#*:}
  [ -e "$path" ] || missing+=("$pkg")
done
if ! command -v go >/dev/null; then
  echo "deps: Go is not on PATH; install Go 1.24 or newer (this machine kind ships it at /usr/local/go)" >&2
  exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "deps: missing packages: ${missing[*]}; this script installs them with apt-get (Debian/Ubuntu)." >&2
  echo "deps: on other systems install the equivalents (Fedora/RHEL: libseccomp-devel pkgconf-pkg-config gcc)." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}; run as root (sudo make deps) or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing docker.io must not start a host dockerd (it would rewrite the
# host's iptables and ip_forward): deny service starts while apt runs,
# unless the machine already has a policy.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
