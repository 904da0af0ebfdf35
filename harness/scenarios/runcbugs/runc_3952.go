package runcbugs

import (
	"context"
	"embed"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

// runc#3952: runc 1.1.8 mounts a tmpfs on a directory the image has with
// mode=%04o of Go's os.FileMode, whose sticky, setuid and setgid bits are
// not the kernel's: the kernel keeps the permission bits only, and the
// image's 1777 /tmp comes up 0777 (any user may delete any other's files).
// The container's /tmp is looked at from the node, through its init's
// root, while it runs; nothing outside the run's directory is touched.
func init() { kit.Register(runc3952) }

//go:embed runc-3952
var runc3952Fixtures embed.FS

var runc3952 = &kit.Bug{
	ID:    "runc#3952",
	Fix:   []string{"runc#3961", "runc#3956"},
	Title: "runc 1.1.8: a tmpfs mounted on the image's 1777 /tmp loses its sticky bit (0777)",
	Summary: "runc 1.1.8 (#3916, the 1.1 backport of #3912) mounts a tmpfs whose options name no mode with the mode of the " +
		"directory it covers, so a restarted container keeps its permissions. It formats that mode as mode=%04o of Go's " +
		"os.FileMode, where the sticky, setuid and setgid bits are high flag bits, not 01000, 04000 and 02000: the kernel masks " +
		"them off, and a /tmp that is 1777 in the image is 0777 in the container. Programs that check /tmp refuse to run " +
		"(ruby's Dir.tmpdir: \"system temporary path is world-writable\"). runc 1.1.9 (#3961, the backport of #3956) converts " +
		"the mode to the kernel's bits (syscallMode).",
	Links: []report.Link{
		{Title: "opencontainers/runc#3952: [v1.1.8 regression] Sticky bit on container tmpfs no longer set", URL: "https://github.com/opencontainers/runc/issues/3952"},
		{Title: "opencontainers/runc#3961: [1.1] fix some file mode bits missing when doing mount syscall", URL: "https://github.com/opencontainers/runc/pull/3961"},
		{Title: "opencontainers/runc#3916: [1.1] Fix tmpfs mode opts when dir already exists (the regression)", URL: "https://github.com/opencontainers/runc/pull/3916"},
		{Title: "runc 1.1.9 release notes", URL: "https://github.com/opencontainers/runc/releases/tag/v1.1.9"},
	},
	Component:     "runc",
	FirstAffected: "1.1.8",
	IntroducedBy:  "runc#3916",
	LastAffected:  "1.1.8",
	FirstFixed:    "1.1.9",
	Revert:        "revert-3961-v1.1.9.patch",
	Fixtures:      runc3952Fixtures,
	Sampling: report.Sampling{Deterministic: true,
		Why:   "the mode is computed the same way on every start: one container per side decides",
		Fresh: "a control and a trigger container, each with its own root filesystem, in a fresh runc state root (~2 s)"},
	Control:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return tmpMode(ctx, r, "mode=1777") },
	Trigger:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return tmpMode(ctx, r, "") },
	Classify: classify3952,
	Examples: runc3952Examples(),
}

// tmpMode runs a container whose image has /tmp at 1777 under a tmpfs on
// /tmp, with option added to that mount's options (the control names the
// mode, the trigger leaves it to runc), and reads the mode and file system
// of the container's /tmp.
func tmpMode(ctx context.Context, r *kit.Run, option string) (kit.Observation, error) {
	name, label := "trigger", "trigger: tmpfs on the image's 1777 /tmp, no mode= option"
	if option != "" {
		name, label = "control", "control: the same tmpfs with "+option
	}
	options := []string{"nosuid", "nodev", "size=16m"}
	if option != "" {
		options = append(options, option)
	}
	c, obs, err := r.Detached(ctx, name, label, kit.Image{{"chmod", "1777", "tmp"}}, func(s *specs.Spec) {
		// The bug's own tmpfs on /tmp, whatever the kit's config mounts there.
		s.Mounts = append(slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/tmp" }),
			specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: options})
	})
	if c == nil || err != nil {
		return obs, err
	}
	defer c.Delete(ctx)
	mode, err := c.Stat(ctx, "%a", "/tmp", false)
	if err != nil {
		return obs, err
	}
	fstype, err := c.Stat(ctx, "%T", "/tmp", true)
	if err != nil {
		return obs, err
	}
	obs.Facts = map[string]string{"mode": mode, "fstype": fstype, "path": c.InRoot("/tmp")}
	return obs, nil
}

// classify3952: REPRODUCED when the tmpfs came up without the sticky bit
// the image's directory has, while the control's explicit mode=1777 held.
func classify3952(control, trigger kit.Observation) kit.Verdict {
	if control.Fact("mode") != "1777" || control.Fact("fstype") != "tmpfs" {
		return kit.Verdict{Result: report.Inconclusive, Reason: fmt.Sprintf("the control's /tmp (a tmpfs with mode=1777) is %s on %s, not 1777 on tmpfs: the probe does not see the mount", control.Fact("mode"), control.Fact("fstype"))}
	}
	if !trigger.Ran {
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger container did not start: " + trigger.Complaint()}
	}
	switch mode := trigger.Fact("mode"); {
	case trigger.Fact("fstype") != "tmpfs":
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's /tmp is not a tmpfs but " + trigger.Fact("fstype")}
	case mode == "777":
		return kit.Verdict{Result: report.Reproduced, Kind: "tmpfs-lost-sticky-bit",
			Reason: "the tmpfs runc mounted on the image's 1777 /tmp is 0777: the sticky bit is gone",
			Reasons: []string{
				"the image's /tmp is 1777; the OCI config mounts a tmpfs there whose options name no mode",
				"stat of the container's /tmp from the node (" + trigger.Fact("path") + "): mode 0777, file system tmpfs",
				"the control, the same mount with mode=1777 in its options: " + control.Fact("mode"),
			}}
	case mode == "1777":
		return kit.Verdict{Result: report.NotReproduced, Reason: "the tmpfs on the image's 1777 /tmp kept the directory's mode, sticky bit included (1777)"}
	default:
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's /tmp has mode " + mode + ", neither the image's 1777 nor the bug's 0777"}
	}
}

// runc3952Examples is the verdict table Classify must reach (the unit tests run it).
func runc3952Examples() []kit.Example {
	control := kit.Ran("mode", "1777", "fstype", "tmpfs")
	return []kit.Example{
		kit.Expect("1.1.8: the sticky bit lost", control, kit.Ran("mode", "777", "fstype", "tmpfs"), report.Reproduced, "is 0777"),
		kit.Expect("1.1.9: the mode kept", control, kit.Ran("mode", "1777", "fstype", "tmpfs"), report.NotReproduced, "kept the directory's mode"),
		kit.Expect("the control's mode= did not hold", kit.Ran("mode", "755", "fstype", "tmpfs"), kit.Ran("mode", "777", "fstype", "tmpfs"), report.Inconclusive, "the probe does not see the mount"),
		kit.Expect("the stat saw the image's directory, not the tmpfs", control, kit.Ran("mode", "777", "fstype", "ext2/ext3"), report.Inconclusive, "not a tmpfs"),
		kit.Expect("some other mode", control, kit.Ran("mode", "755", "fstype", "tmpfs"), report.Inconclusive, "neither the image's 1777"),
		kit.Expect("the trigger did not start", control, kit.Refused(`time="x" level=error msg="runc run failed: no space left"`), report.Inconclusive, "runc run failed: no space left"),
		kit.Expect("the control did not start", kit.Refused("boom"), kit.Ran("mode", "777", "fstype", "tmpfs"), report.Inconclusive, "the control"),
	}
}
