#!/bin/sh
# relapse recipe "kernel": a self-contained Linux bzImage from a Debian linux
# source package, with patches and a Kconfig fragment on x86_64_defconfig.
# Runs inside a Debian build root with /build holding the .dsc and its
# tarballs, patches/ and config.fragment; leaves out/bzImage, out/config and
# out/release. Inputs: DSC, PATCHES (file names under /build/patches, applied
# in order), JOBS.
set -eu
cd /build
rm -rf src obj out
dpkg-source --no-check -x "$DSC" src
cd src
for p in $PATCHES; do
	echo "relapse: applying $p"
	patch -p1 --forward --batch --no-backup-if-mismatch < "/build/patches/$p"
done
make O=/build/obj x86_64_defconfig
scripts/kconfig/merge_config.sh -m -O /build/obj /build/obj/.config /build/config.fragment
make O=/build/obj olddefconfig
make O=/build/obj -j"$JOBS" bzImage
mkdir -p /build/out
cp /build/obj/arch/x86/boot/bzImage /build/out/bzImage
cp /build/obj/.config /build/out/config
make -s O=/build/obj kernelrelease > /build/out/release
