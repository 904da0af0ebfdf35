package runcbugs

import (
	"context"
	"embed"
	"fmt"
	"strings"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

// CVE-2023-27561 (runc#3751, a regression of CVE-2019-19921): runc
// rc95 to 1.1.4 resolve the destination of the proc mount with SecureJoin
// before they check it is a directory, so an image whose /proc is a
// symlink gets proc mounted where the symlink points. The trigger's image
// points /proc at a directory relapse planted in that image, inside the
// run's directory; the mount is seen from the node in the running
// container's mountinfo. Nothing outside the run's directory is touched.
func init() { kit.Register(cve202327561) }

//go:embed cve-2023-27561
var cve202327561Fixtures embed.FS

// planted is the directory the trigger image's /proc points to.
const planted = "relapse-planted"

// ordinaryDirOnly is what a fixed runc says to a symlinked /proc.
const ordinaryDirOnly = `must be mounted on ordinary directory`

var cve202327561 = &kit.Bug{
	ID:       "CVE-2023-27561",
	Fix:      []string{"runc#3785", "runc#3773"},
	Advisory: "https://github.com/advisories/GHSA-vpvm-3wq2-2wvm",
	Title:    "runc rc95 to 1.1.4 follow an image's /proc symlink and mount proc where it points (CVE-2019-19921 again)",
	Summary: "runc refuses to mount proc or sysfs on anything but a directory since the CVE-2019-19921 fix (#2207): a /proc " +
		"that is a symlink into a volume lets a container race runc's later writes under /proc (AppArmor and SELinux labels, " +
		"masked and read-only paths). 0ca91f44 (the CVE-2021-30465 fix, rc95) resolved the destination with SecureJoin before " +
		"that check, which then saw the symlink's target, a directory: an image whose /proc is a symlink gets proc mounted " +
		"at the target. runc 1.1.5 (#3785, the backport of #3773) checks the path as the image has it and refuses: " +
		"\"filesystem \\\"proc\\\" must be mounted on ordinary directory\". The same fix closed CVE-2023-28642 (GHSA-g2j6-57v7-gm8c).",
	Links: []report.Link{
		{Title: "opencontainers/runc#3751: CVE-2019-19921 re-introduction/regression", URL: "https://github.com/opencontainers/runc/issues/3751"},
		{Title: "opencontainers/runc#3785: [1.1 backport] Prohibit /proc and /sys to be symlinks", URL: "https://github.com/opencontainers/runc/pull/3785"},
		{Title: "runc 1.1.5 release notes (CVE-2023-27561, CVE-2023-28642)", URL: "https://github.com/opencontainers/runc/releases/tag/v1.1.5"},
		{Title: "GHSA-g2j6-57v7-gm8c: AppArmor bypass with symlinked /proc (CVE-2023-28642)", URL: "https://github.com/opencontainers/runc/security/advisories/GHSA-g2j6-57v7-gm8c"},
	},
	Component:     "runc",
	FirstAffected: "1.0.0-rc95",
	IntroducedBy:  "runc@0ca91f44",
	LastAffected:  "1.1.4",
	FirstFixed:    "1.1.5",
	Revert:        "revert-3785-v1.1.5.patch",
	Fixtures:      cve202327561Fixtures,
	Sampling: report.Sampling{Deterministic: true,
		Why:   "the mount destination is resolved the same way on every start: one container per side decides",
		Fresh: "a control and a trigger container, each with its own root filesystem, in a fresh runc state root (~2 s)"},
	Control:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return procAt(ctx, r, false) },
	Trigger:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return procAt(ctx, r, true) },
	Classify: classify27561,
	Examples: cve202327561Examples(),
}

// procAt runs a container whose image has the planted directory and /proc
// as an ordinary directory (the control) or as a symlink to the planted
// one (the trigger), and reads the file system of both and the
// container's mountinfo line for the planted directory.
func procAt(ctx context.Context, r *kit.Run, symlink bool) (kit.Observation, error) {
	name, label, image := "control", "control: /proc an ordinary directory", kit.Image{{"mkdir", planted}}
	if symlink {
		name, label = "trigger", "trigger: /proc a symlink to /"+planted
		image = append(image, []string{"rmdir", "proc"}, []string{"ln", "-s", planted, "proc"})
	}
	c, obs, err := r.Detached(ctx, name, label, image, nil)
	if c == nil || err != nil {
		return obs, err
	}
	defer c.Delete(ctx)
	obs.Facts = map[string]string{"path": c.InRoot("/" + planted)}
	for _, dir := range []string{"/proc", "/" + planted} {
		if obs.Facts[dir], err = c.Stat(ctx, "%T", dir, true); err != nil {
			return obs, err
		}
	}
	info, err := r.Env.Node.ReadFile(ctx, fmt.Sprintf("/proc/%d/mountinfo", c.PID))
	if err != nil {
		return obs, fmt.Errorf("reading the container's mountinfo: %w", err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == "/"+planted {
			obs.Facts["mountinfo"] = line
		}
	}
	return obs, nil
}

// classify27561: REPRODUCED when proc was mounted on the planted directory
// the image's /proc points to; NOT REPRODUCED when runc refused the image.
func classify27561(control, trigger kit.Observation) kit.Verdict {
	if control.Fact("/proc") != "proc" || control.Fact("/"+planted) == "proc" {
		return kit.Verdict{Result: report.Inconclusive, Reason: fmt.Sprintf("the control's /proc is on %q and /%s on %q: want proc on /proc only", control.Fact("/proc"), planted, control.Fact("/"+planted))}
	}
	switch {
	case trigger.Ran && trigger.Fact("/"+planted) == "proc":
		return kit.Verdict{Result: report.Reproduced, Kind: "proc-mounted-through-symlink",
			Reason: fmt.Sprintf("runc followed the image's /proc symlink and mounted proc on /%s, the directory it points to", planted),
			Reasons: []string{
				fmt.Sprintf("the image's /proc is a symlink to %s, a directory relapse planted in the image (in the run's directory)", planted),
				"file system of the container's /" + planted + " seen from the node (" + trigger.Fact("path") + "): proc",
				"the container's mountinfo: " + trigger.Fact("mountinfo"),
				fmt.Sprintf("the control (/proc an ordinary directory): /proc on %s, /%s on %s", control.Fact("/proc"), planted, control.Fact("/"+planted)),
			}}
	case !trigger.Ran && strings.Contains(trigger.Said, ordinaryDirOnly):
		return kit.Verdict{Result: report.NotReproduced, Reason: "runc refused the image whose /proc is a symlink: " + trigger.Complaint()}
	case !trigger.Ran:
		return kit.Verdict{Result: report.Inconclusive, Reason: "runc did not start the trigger for another reason than the fix's: " + trigger.Complaint()}
	default:
		return kit.Verdict{Result: report.Inconclusive, Reason: fmt.Sprintf("the trigger started but /%s is on %q, not proc", planted, trigger.Fact("/"+planted))}
	}
}

// cve202327561Examples is the verdict table Classify must reach (the unit tests run it).
func cve202327561Examples() []kit.Example {
	control := kit.Ran("/proc", "proc", "/"+planted, "ext2/ext3")
	fixed := `time="2026-12-06T10:19:33Z" level=error msg="runc run failed: unable to start container process: error during container init: error mounting \"proc\" to rootfs at \"/proc\": filesystem \"proc\" must be mounted on ordinary directory"`
	return []kit.Example{
		kit.Expect("1.1.4: proc mounted on the planted directory", control, kit.Ran("/proc", "proc", "/"+planted, "proc", "mountinfo", "71 70 0:41 / /relapse-planted rw - proc proc rw"), report.Reproduced, "mounted proc on /relapse-planted"),
		kit.Expect("1.1.5: refused", control, kit.Refused(fixed), report.NotReproduced, `filesystem "proc" must be mounted on ordinary directory`),
		kit.Expect("refused for another reason", control, kit.Refused(`level=error msg="runc run failed: permission denied"`), report.Inconclusive, "runc run failed: permission denied"),
		kit.Expect("started but no proc there", control, kit.Ran("/proc", "ext2/ext3", "/"+planted, "ext2/ext3"), report.Inconclusive, "not proc"),
		kit.Expect("the control's /proc is no proc", kit.Ran("/proc", "tmpfs", "/"+planted, "ext2/ext3"), kit.Refused(fixed), report.Inconclusive, "want proc on /proc only"),
	}
}
