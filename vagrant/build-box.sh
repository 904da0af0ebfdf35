#!/usr/bin/env bash
# Builds a Vagrant box for the libvirt provider, offline, from relapse's VM
# root filesystem (harness/vm: debootstrap bookworm + systemd + sshd) and a
# Debian kernel unpacked by relapse. relapse calls it with the cached paths
# (PROVIDER=vagrant); it can be run by hand the same way:
#
#   vagrant/build-box.sh ROOTFS_TREE KERNEL_DIR KERNEL_RELEASE OUT.box
#
# The box boots its kernel directly (libvirt <kernel>/<initrd>, no
# bootloader): no GRUB install, no partition table, no loop device. The
# kernel's modules are put into the box's /lib/modules. Logins are root with
# relapse's key (baked into the root filesystem), as the box's Vagrantfile
# says; public boxes keep Vagrant's defaults.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 ROOTFS_TREE KERNEL_DIR KERNEL_RELEASE OUT.box" >&2; exit 2; }
tree=$1 kdir=$2 release=$3 out=$4
for f in "$tree/sbin/init" "$kdir/boot/vmlinuz-$release" "$kdir/initrd.img" "$kdir/lib/modules/$release/modules.dep"; do
  [ -e "$f" ] || { echo "build-box: missing $f" >&2; exit 1; }
done
work=$(mktemp -d "$(dirname "$out")/box-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The node's file system: the shared tree plus this kernel's modules.
mkdir -p "$work/root"
cp -a "$tree/." "$work/root/"
mkdir -p "$work/root/lib/modules"
cp -a "$kdir/lib/modules/$release" "$work/root/lib/modules/"
echo "relapse vagrant box, kernel $release" > "$work/root/etc/relapse-box"
# On libvirt's management network the address comes from its dnsmasq (the
# qemu nodes use qemu's fixed user-network address instead).
rm -f "$work/root/etc/systemd/network/10-qemu.network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' > "$work/root/etc/systemd/network/10-dhcp.network"
mkfs.ext4 -q -F -L relapse-root -d "$work/root" "$work/root.ext4" 4G
rm -rf "$work/root"
qemu-img convert -O qcow2 "$work/root.ext4" "$work/box.img"
rm -f "$work/root.ext4"

cp "$kdir/boot/vmlinuz-$release" "$work/vmlinuz"
cp "$kdir/initrd.img" "$work/initrd.img"
printf '{"provider":"libvirt","format":"qcow2","virtual_size":4}\n' > "$work/metadata.json"
# The box's own Vagrantfile: boot the kernel it carries, log in as root with
# relapse's key (the project Vagrantfile passes its path).
cat > "$work/Vagrantfile" <<'VF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.kernel = File.join(__dir__, "vmlinuz")
    libvirt.initrd = File.join(__dir__, "initrd.img")
    libvirt.cmd_line = "console=ttyS0 root=/dev/vda rw quiet panic=-1 mitigations=off"
  end
  config.ssh.username = "root"
  config.ssh.insert_key = false
end
VF
# Plain tar: the image is already the bulk of it, gzip would cost a minute.
tar -C "$work" -cf "$out.tmp" metadata.json Vagrantfile box.img vmlinuz initrd.img
mv "$out.tmp" "$out"
echo "build-box: $out ($(du -h "$out" | cut -f1)) for kernel $release"
