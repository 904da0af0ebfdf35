package debsrc

import (
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/textutil"
)

// reproducer is a shell script that makes the same build by hand, without
// relapse: the same apt sources, download, build root and recipe.
func reproducer(req Request, mirror string, root BuildRoot, script string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# %s, built the way relapse builds it. Run as root on a Debian or\n", req)
	b.WriteString("# Ubuntu machine with debootstrap; everything stays under $W.\n")
	b.WriteString("# Patches are read from ./patches/ (relapse's report keeps them there).\nset -eu\n")
	b.WriteString("W=${W:-$PWD/relapse-debsrc}; mkdir -p \"$W/apt/lists/partial\" \"$W/apt/cache/archives/partial\" \"$W/work/patches\"\n")
	fmt.Fprintf(&b, "cat > \"$W/apt/sources.list\" <<'SOURCES'\n%sSOURCES\n", aptSources(mirror))
	b.WriteString("A=\"-o Dir::Etc::SourceList=$W/apt/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$W/apt/lists -o Dir::Cache=$W/apt/cache\"\n")
	b.WriteString("apt-get $A update\n")
	fmt.Fprintf(&b, "(cd \"$W/work\" && apt-get $A source --download-only %s)\n", textutil.ShellQuote(req.Package+"="+req.Version))
	args := []string{"debootstrap", "--variant=buildd", "--include=" + strings.Join(root.Packages, ","), root.Suite, "$W/root"}
	fmt.Fprintf(&b, "[ -d \"$W/root/usr\" ] || %s %s\n", strings.Join(args[:4], " "), "\"$W/root\" "+root.Mirror)
	if root.BuildDepsOf != "" {
		fmt.Fprintf(&b, "cat > \"$W/root/etc/apt/sources.list\" <<'SOURCES'\n%sSOURCES\n", root.sources())
		fmt.Fprintf(&b, "chroot \"$W/root\" sh -c 'apt-get update && apt-get -y --no-install-recommends build-dep -P %s %s'\n",
			strings.ReplaceAll(root.Profiles, " ", ","), root.BuildDepsOf)
	}
	var names []string
	for i, p := range req.Patches {
		name := fmt.Sprintf("%02d-%s", i+1, p.Name)
		fmt.Fprintf(&b, "cp patches/%s \"$W/work/patches/%s\"   # sha256 %s\n", p.Name, name, p.SHA256)
		names = append(names, name)
	}
	if req.Recipe == Kernel {
		b.WriteString("cp config.fragment \"$W/work/config.fragment\"\n")
	}
	fmt.Fprintf(&b, "cat > \"$W/work/recipe.sh\" <<'RECIPE'\n%sRECIPE\nchmod +x \"$W/work/recipe.sh\"\n", script)
	b.WriteString("mount -t proc proc \"$W/root/proc\"; mount --rbind /dev \"$W/root/dev\"; mkdir -p \"$W/root/build\"; mount --bind \"$W/work\" \"$W/root/build\"\n")
	fmt.Fprintf(&b, "chroot \"$W/root\" env DSC=$(cd \"$W/work\" && ls *.dsc) PATCHES=%s JOBS=$(nproc) PROFILES=%s LOCAL_VERSION=%s /build/recipe.sh\n",
		textutil.ShellQuote(strings.Join(names, " ")), textutil.ShellQuote(Profiles), textutil.ShellQuote(localVersionArg(req)))
	b.WriteString("umount \"$W/root/build\"; umount -R \"$W/root/dev\"; umount \"$W/root/proc\"\n")
	b.WriteString("ls -l \"$W/work/out\"\n")
	return b.String()
}

func orDefaultMirror(m string) string {
	if m == "" {
		return "http://deb.debian.org/debian"
	}
	return m
}
