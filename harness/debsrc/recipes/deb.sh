#!/bin/sh
# relapse recipe "deb": Debian binary packages from a Debian source package
# with patches added to its quilt series, so the packages record them.
# Runs inside a Debian build root that already has the package's build
# dependencies (apt-get build-dep with PROFILES). Inputs: DSC, PATCHES (file
# names under /build/patches), JOBS, PROFILES, LOCAL_VERSION (the version the
# built packages carry, e.g. 252.39-1~deb12u2+relapse.p1a2b3c4d). Leaves the
# .deb files in out/.
set -eu
cd /build
rm -rf src out
dpkg-source --no-check -x "$DSC" src
cd src
for p in $PATCHES; do
	cp "/build/patches/$p" "debian/patches/relapse-$p"
	echo "relapse-$p" >> debian/patches/series
done
if [ -n "$LOCAL_VERSION" ]; then
	source=$(dpkg-parsechangelog -S Source)
	distribution=$(dpkg-parsechangelog -S Distribution)
	{
		printf '%s (%s) %s; urgency=medium\n\n' "$source" "$LOCAL_VERSION" "$distribution"
		for p in $PATCHES; do printf '  * relapse: add %s\n' "$p"; done
		printf '\n -- relapse <relapse@invalid>  %s\n\n' "$(date -R)"
		cat debian/changelog
	} > debian/changelog.new
	mv debian/changelog.new debian/changelog
fi
export DEB_BUILD_OPTIONS="nocheck nodoc parallel=$JOBS"
export DEB_BUILD_PROFILES="$PROFILES"
dpkg-buildpackage -b -uc -us
mkdir -p /build/out
mv ../*.deb /build/out/
