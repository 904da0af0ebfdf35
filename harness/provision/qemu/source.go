package qemu

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/relapse-dev/relapse/fixtures"
	"github.com/relapse-dev/relapse/harness/debsrc"
	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/run"
	"github.com/relapse-dev/relapse/harness/vm"
)

// kernelRequest is the Debian source build a KERNEL=source:<version> asks for.
func kernelRequest(ks vm.KernelSpec, spec provision.Spec) debsrc.Request {
	return debsrc.Request{Package: "linux", Version: ks.Source, Recipe: debsrc.Kernel,
		Patches: spec.KernelPatches, ConfigFragment: fixtures.NodeKernelConfig}
}

// systemdRequest is the Debian source build a SYSTEMD=source:<version> asks
// for; ok is false when the root filesystem's own systemd is wanted.
func systemdRequest(spec provision.Spec) (req debsrc.Request, ok bool, err error) {
	if spec.Systemd == "" {
		if len(spec.SystemdPatches) > 0 {
			return req, false, fmt.Errorf("--patch systemd=... needs SYSTEMD=%s<Debian version> (e.g. %s252.39-1~deb12u2): the patch goes into a build from Debian source", vm.SourcePrefix, vm.SourcePrefix)
		}
		return req, false, nil
	}
	version, isSource := strings.CutPrefix(spec.Systemd, vm.SourcePrefix)
	if !isSource {
		return req, false, fmt.Errorf("SYSTEMD=%s: want %s<Debian version> (e.g. %s252.39-1~deb12u2) to build systemd from Debian source, or nothing for the root filesystem's own systemd", spec.Systemd, vm.SourcePrefix, vm.SourcePrefix)
	}
	req = debsrc.Request{Package: "systemd", Version: version, Recipe: debsrc.Deb, Patches: spec.SystemdPatches}
	return req, true, req.Check()
}

// buildKernel builds a KERNEL=source:<version> kernel and points the spec
// at it; the facts describe the build for the report.
func buildKernel(ctx context.Context, env *run.Run, ks vm.KernelSpec, spec provision.Spec) (vm.KernelSpec, []report.Fact, error) {
	var res debsrc.Result
	req := kernelRequest(ks, spec)
	err := env.Timed("build", req.String(), func() error {
		var err error
		res, err = debsrc.Build(ctx, env.CacheDir, req, env.Logf)
		return err
	})
	if err != nil {
		return ks, nil, err
	}
	ks.Image, ks.BuiltConfig, ks.BuiltRelease = res.Path("bzImage"), res.Path("config"), res.KernelRelease
	facts, err := sourceBuildFacts(env, "kernel", res)
	return ks, facts, err
}

// systemdVariant builds systemd from Debian source and the root filesystem
// variant with it installed over the base's own.
func systemdVariant(ctx context.Context, env *run.Run, req debsrc.Request, base vm.Rootfs) (vm.Rootfs, []report.Fact, error) {
	var res debsrc.Result
	var rootfs vm.Rootfs
	err := env.Timed("build", req.String(), func() error {
		var err error
		if res, err = debsrc.Build(ctx, env.CacheDir, req, env.Logf); err != nil {
			return err
		}
		var debs []string
		for _, f := range res.Files {
			if strings.HasSuffix(f, ".deb") {
				debs = append(debs, res.Path(f))
			}
		}
		rootfs, err = vm.BuildRootfsVariant(ctx, env.CacheDir, base, vm.RootfsVariant{Name: res.Name, Debs: debs}, env.Logf)
		return err
	})
	if err != nil {
		return rootfs, nil, err
	}
	facts, err := sourceBuildFacts(env, "systemd", res)
	return rootfs, facts, err
}

// sourceBuildFacts describe a Debian source build in the report, and keep
// its patches and hand-build script with it.
func sourceBuildFacts(env *run.Run, what string, res debsrc.Result) ([]report.Fact, error) {
	facts := []report.Fact{{Name: what, Value: res.Name}}
	for _, p := range res.Patches {
		facts = append(facts, report.Fact{Name: what + " patch", Value: fmt.Sprintf("%s sha256 %s", p.Name, p.SHA256)})
		if err := env.SaveFile(filepath.Join("patches", p.Name), "patch applied to "+res.Package+" (Debian source)", []byte(p.Diff)); err != nil {
			return nil, err
		}
	}
	var sources []string
	for name, sum := range res.Sources {
		sources = append(sources, name+" "+sum[:16])
	}
	facts = append(facts,
		report.Fact{Name: what + " source files", Value: strings.Join(sorted(sources), ", ")},
		report.Fact{Name: what + " build root", Value: fmt.Sprintf("debootstrap %s buildd from %s; %s", res.BuildRoot.Suite, res.BuildRoot.Mirror, res.BuildRoot.GCC)},
		report.Fact{Name: what + " build", Value: cachedOrBuilt(res.Cached, res.BuildSeconds, what) + " (key " + res.Key + ")"},
	)
	err := env.SaveFile("build-"+res.Package+".sh", "builds "+res.Name+" by hand, without relapse (patches from ./patches)", []byte(res.Script))
	return facts, err
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
