package runcbugs

import (
	"context"
	"embed"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
)

// runc#3674: `runc exec --user UID` given /dev/null as stdio (what a
// container manager passes for a process without input) chowns that
// /dev/null to UID: runc 1.1.1 to 1.1.4 skip the chown of a stdio
// descriptor only when its owner already is UID. Upstream saw the host's
// /dev/null change owner. relapse hands runc the container's own
// /dev/null instead (a device node 1:3 on the container's /dev tmpfs,
// reached from the node through the init's root): the same kind of file
// through the same path in runc, and nothing of the host is touched.
func init() { kit.Register(runc3674) }

//go:embed runc-3674
var runc3674Fixtures embed.FS

// execUser is the user the exec runs as.
const execUser = "1000:1000"

// nullDevice ends the stat line (execOwner's format) of /dev/null.
const nullDevice = "character special file 1:3"

var runc3674 = &kit.Bug{
	ID:    "runc#3674",
	Fix:   []string{"runc#3731", "runc#3707"},
	Title: "runc exec --user with /dev/null as stdio chowns that /dev/null (the host's, under a container manager) to the user",
	Summary: "Before it switches to the process's user, runc's init chowns the process's stdio descriptors to that user, so a " +
		"non-root process can reopen its own stdio. runc 1.1.1 (5053a065, the 1.1 backport of #3345) replaced the check that " +
		"skipped /dev/null with one that skips descriptors already owned by the user: a `runc exec --user 1000` whose stdin " +
		"is the host's /dev/null, as Docker and containerd pass it, makes /dev/null owned by 1000 on the host, and the owner " +
		"flips with every exec as another user. runc 1.1.5 (#3731, the backport of #3707) skips /dev/null again (same rdev).",
	Links: []report.Link{
		{Title: "opencontainers/runc#3674: permanent changes in ownership of /dev/null", URL: "https://github.com/opencontainers/runc/issues/3674"},
		{Title: "opencontainers/runc#3731: [1.1] libcontainer: skip chown of /dev/null caused by fd redirection", URL: "https://github.com/opencontainers/runc/pull/3731"},
		{Title: "opencontainers/runc#3707: libcontainer: skip chown of /dev/null caused by fd redirection", URL: "https://github.com/opencontainers/runc/pull/3707"},
		{Title: "runc 1.1.5 release notes", URL: "https://github.com/opencontainers/runc/releases/tag/v1.1.5"},
	},
	Component:     "runc",
	FirstAffected: "1.1.1",
	IntroducedBy:  "runc@5053a065",
	LastAffected:  "1.1.4",
	FirstFixed:    "1.1.5",
	Revert:        "revert-3731-v1.1.5.patch",
	Fixtures:      runc3674Fixtures,
	Sampling: report.Sampling{Deterministic: true,
		Why:   "the chown is decided the same way on every exec: one exec per side decides",
		Fresh: "a control and a trigger container with one exec each, a fresh runc state root (~2 s)"},
	Control:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return execOwner(ctx, r, false) },
	Trigger:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return execOwner(ctx, r, true) },
	Classify: classify3674,
	Examples: runc3674Examples(),
}

// execOwner runs `runc exec --user 1000:1000` in a running container with
// stdin the container's /dev/null (the trigger) or a plain file in its
// image (the control: runc is meant to chown that one), and reads the
// file's owner before and after.
func execOwner(ctx context.Context, r *kit.Run, null bool) (kit.Observation, error) {
	name, label, stdin := "control", "control: exec --user "+execUser+" with stdin a plain file", "/relapse-stdin"
	image := kit.Image{{"touch", "relapse-stdin"}}
	if null {
		name, label, stdin, image = "trigger", "trigger: exec --user "+execUser+" with stdin the container's /dev/null", "/dev/null", nil
	}
	// A writable root on both sides: runc's chown of the control's file in
	// the image would fail with EROFS on the kit's read-only root, and runc
	// ignores that.
	c, obs, err := r.Detached(ctx, name, label, image, func(s *specs.Spec) { s.Root.Readonly = false })
	if c == nil || err != nil {
		return obs, err
	}
	defer c.Delete(ctx)
	const format = "%u:%g %a %F %t:%T"
	before, err := c.Stat(ctx, format, stdin, false)
	if err != nil {
		return obs, err
	}
	if err := c.Exec(ctx, stdin, []string{"--user", execUser}, "/init"); err != nil {
		obs.Ran, obs.Failure, obs.Said = false, "runc exec failed", err.Error()
		return obs, nil
	}
	after, err := c.Stat(ctx, format, stdin, false)
	if err != nil {
		return obs, err
	}
	obs.Facts = map[string]string{"before": before, "after": after, "file": c.InRoot(stdin)}
	return obs, nil
}

// owner is the uid:gid a stat line of execOwner's format starts with.
func owner(stat string) string {
	o, _, _ := strings.Cut(stat, " ")
	return o
}

// classify3674: REPRODUCED when the exec left /dev/null owned by its user.
func classify3674(control, trigger kit.Observation) kit.Verdict {
	if !trigger.Ran {
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's exec did not run: " + trigger.Complaint()}
	}
	uid, _, _ := strings.Cut(execUser, ":")
	before, after := owner(trigger.Fact("before")), owner(trigger.Fact("after"))
	chowned := fmt.Sprintf("the control's plain-file stdin went from %s to %s", owner(control.Fact("before")), owner(control.Fact("after")))
	switch {
	case !strings.HasSuffix(trigger.Fact("before"), nullDevice):
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's stdin is not a null device (" + nullDevice + "): " + trigger.Fact("before")}
	case strings.HasPrefix(before, uid+":"):
		return kit.Verdict{Result: report.Inconclusive, Reason: "the container's /dev/null was owned by the exec's user before the exec: " + trigger.Fact("before")}
	case strings.HasPrefix(after, uid+":"):
		return kit.Verdict{Result: report.Reproduced, Kind: "dev-null-chowned",
			Reason: fmt.Sprintf("`runc exec --user %s` given /dev/null as stdin chowned it: %s -> %s", execUser, before, after),
			Reasons: []string{
				"stdin of the exec: " + trigger.Fact("file") + " (stat: " + trigger.Fact("before") + "), held by runc itself as fd 0",
				"after the exec: " + trigger.Fact("after"),
				chowned + " (runc chowns a non-root process's stdio; /dev/null is meant to be skipped)",
			}}
	case after == before:
		return kit.Verdict{Result: report.NotReproduced, Reason: fmt.Sprintf("/dev/null handed to `runc exec --user %s` as stdin kept its owner %s; %s", execUser, after, chowned)}
	default:
		return kit.Verdict{Result: report.Inconclusive, Reason: "the container's /dev/null changed owner, but not to the exec's user: " + before + " -> " + after}
	}
}

// runc3674Examples is the verdict table Classify must reach (the unit tests run it).
func runc3674Examples() []kit.Example {
	control := kit.Ran("before", "0:0 644 regular empty file 0:0", "after", "1000:0 644 regular empty file 0:0")
	null := func(before, after string) kit.Observation {
		return kit.Ran("before", before+" 666 character special file 1:3", "after", after+" 666 character special file 1:3", "file", "/proc/1/root/dev/null")
	}
	return []kit.Example{
		kit.Expect("1.1.4: /dev/null chowned", control, null("0:0", "1000:0"), report.Reproduced, "chowned it: 0:0 -> 1000:0"),
		kit.Expect("1.1.5: /dev/null skipped", control, null("0:0", "0:0"), report.NotReproduced, "kept its owner 0:0"),
		kit.Expect("already the exec user's", control, null("1000:0", "1000:0"), report.Inconclusive, "owned by the exec's user before"),
		kit.Expect("stdin no null device", control, control, report.Inconclusive, "not a null device"),
		kit.Expect("chowned to someone else", control, null("0:0", "5:0"), report.Inconclusive, "not to the exec's user"),
		kit.Expect("the exec failed", control, kit.Observation{Failure: "runc exec failed", Said: "exec failed: no such user"}, report.Inconclusive, "no such user"),
		kit.Expect("the control's exec failed", kit.Observation{Failure: "runc exec failed"}, null("0:0", "1000:0"), report.Inconclusive, "the control"),
	}
}
