#!/usr/bin/env bash
# Installs the Debian packages relapse needs, when they are missing.
# Used by the Makefile (each target asks for the groups it needs) and .ci/run.
set -euo pipefail

# Groups, installed only when asked for, so a run installs what it needs:
#   base     building runc and running the bare runc scenarios (make repro)
#   engines  dockerd and Debian's containerd (ENGINE=docker|containerd, make test)
#   test     what make test checks with (schema, workflow lint, browser)
#   k8s, vm, bench  clusters, VM and Vagrant nodes, the load generator
#   podman   podman and conmon (ENGINE=podman of cri-o-4491)
# No argument means base, engines, podman and test: everything make test needs.
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(base engines podman test)

# package:what-proves-it-is-installed
needs=()
for group in "${groups[@]}"; do
  case "$group" in
  base) needs+=(
    "libseccomp-dev:/usr/include/seccomp.h"   # runc's seccomp build tag, and relapse's BPF sizing
    "pkg-config:/usr/bin/pkg-config"          # libseccomp version in reports
    "gcc:/usr/bin/gcc"                        # cgo for runc and libseccomp-golang
    "iproute2:/usr/bin/ip"                    # network namespaces
    "util-linux:/usr/bin/unshare"             # private mount namespaces
  ) ;;
  engines) needs+=(
    "docker.io:/usr/sbin/dockerd"             # the docker engine (20.10) and the containerd it manages (1.6.20)
    "containerd:/usr/bin/containerd-shim-runc-v2"
  ) ;;
  test) needs+=(
    "openssh-client:/usr/bin/ssh-keygen"      # the VM nodes' key (unit tests make one)
    "libxml2-utils:/usr/bin/xmllint"          # junit.xml checked against the JUnit schema in the unit tests
    "shellcheck:/usr/bin/shellcheck"          # actionlint checks the workflow's run: scripts with it
    "chromium-headless-shell:/usr/bin/chromium-headless-shell"  # the page tests render the dashboard and reports in it
    "e2fsprogs:/sbin/mkfs.ext4"               # the VM disk image test makes an ext4 image
    "strace:/usr/bin/strace"                  # the chaos faults' syscall delays and errors (harness/chaos tests, relapse chaos)
    "stress-ng:/usr/bin/stress-ng"            # the chaos pressure fault (harness/chaos tests, relapse chaos)
    # The only fonts the page tests render with (harness/browser pins them): DejaVu, widest first.
    "fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    "fonts-dejavu-extra:/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf"
  ) ;;
  k8s) needs+=(
    "etcd-server:/usr/bin/etcd"                    # the clusters' etcd
    "containernetworking-plugins:/usr/lib/cni/bridge"  # bridge, host-local, portmap
    "debootstrap:/usr/sbin/debootstrap"            # the kind node image's root filesystem
    "runc:/usr/sbin/runc"                          # what relapse's dockerd runs kind's node container with
    "busybox-static:/bin/busybox"                  # the clusters' offline busybox image
    "containerd:/usr/bin/containerd"               # the bare clusters' CRI runtime
  ) ;;
  podman) needs+=(
    "podman:/usr/bin/podman"                       # ENGINE=podman: podman 4.3 drives the runc under test
    "conmon:/usr/bin/conmon"                       # podman's container monitor, as under CRI-O
  ) ;;
  bench) needs+=(
    "stress-ng:/usr/bin/stress-ng"                 # CPU and I/O load for the false-alarm benchmark
  ) ;;
  vm) needs+=(
    "qemu-system-x86:/usr/bin/qemu-system-x86_64"  # VM nodes
    "qemu-utils:/usr/bin/qemu-img"                 # copy-on-write node disks
    "debootstrap:/usr/sbin/debootstrap"            # the nodes' root filesystem
    "e2fsprogs:/sbin/mkfs.ext4"                    # disk images without a loop device
    "busybox-static:/bin/busybox"                  # the nodes' initramfs
    "cpio:/usr/bin/cpio"
    "kmod:/usr/sbin/depmod"                        # modules.dep of unpacked kernels
    "openssh-client:/usr/bin/ssh"                  # commands on the nodes
    "vagrant:/usr/bin/vagrant"                     # Vagrant nodes
    "vagrant-libvirt:/usr/share/vagrant-plugins/plugins.d/vagrant-libvirt.json"
    "libvirt-daemon-system:/usr/sbin/libvirtd"     # relapse runs its own, in namespaces
    "libvirt-clients:/usr/bin/virsh"
    "dnsmasq-base:/usr/sbin/dnsmasq"               # libvirt's management network
  ) ;;
  *) echo "deps: unknown group $group: want base, engines, test, k8s, vm, podman or bench" >&2; exit 2 ;;
  esac
done

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
