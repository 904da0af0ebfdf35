package runcbugs

import (
	"context"
	"embed"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
)

// runc#3551: runc 1.1.3 (runc#3504) drops device rules without a path
// from the systemd scope's DeviceAllow=, "char-pts" among them; runc's own
// cgroup rules hide it until `systemctl daemon-reload` re-applies the
// scope's, and then `runc exec -t` may not open /dev/pts. Both sides start
// a container with a deny-all device rule under --systemd-cgroup and run
// `runc exec -t` twice; the trigger reloads systemd in between. A qemu
// node: the trigger reloads PID 1.
func init() { kit.Register(runc3551) }

//go:embed runc-3551
var runc3551Fixtures embed.FS

var runc3551 = &kit.Bug{
	ID:    "runc#3551",
	Fix:   []string{"runc#3554", "runc#3559"},
	Title: "runc 1.1.3 with the systemd cgroup driver: `runc exec -t` fails \"open /dev/pts/0: operation not permitted\" after `systemctl daemon-reload`",
	Summary: "runc 1.1.3 (commit 7219387e, runc#3504) skips device rules whose path does not exist when it writes the systemd " +
		"scope's DeviceAllow=; wildcard rules are names (\"char-pts\"), not paths, so the scope lost \"char-pts rwm\". runc also " +
		"writes the rules into the cgroup itself, which hides the loss until `systemctl daemon-reload` re-applies the scope's own: " +
		"then the container may not open a new pseudo-terminal, and `runc exec -t` (`docker exec -it`, `kubectl exec -it`) fails. " +
		"runc 1.1.4 (runc#3554; runc#3559 on main) checks paths only for /dev entries.",
	Links: []report.Link{
		{Title: "opencontainers/runc#3551: OCI runtime exec failed: open /dev/pts/0: operation not permitted (the report)", URL: "https://github.com/opencontainers/runc/issues/3551"},
		{Title: "opencontainers/runc#3554: [1.1] Fix failed exec after systemctl daemon-reload (the fix, v1.1.4)", URL: "https://github.com/opencontainers/runc/pull/3554"},
		{Title: "opencontainers/runc#3559: the same fix on main", URL: "https://github.com/opencontainers/runc/pull/3559"},
		{Title: "containerd/containerd#7219: failed to exec into the container after systemctl daemon-reload (the seed)", URL: "https://github.com/containerd/containerd/issues/7219"},
	},
	Component:     "runc",
	FirstAffected: "1.1.3",
	IntroducedBy:  "commit 7219387e, runc#3504",
	LastAffected:  "1.1.3",
	FirstFixed:    "1.1.4",
	Revert:        "revert-3554-v1.1.4.patch",
	Fixtures:      runc3551Fixtures,
	Nodes:         []string{"qemu"},
	Slow:          true,
	Runc:          runckit.Options{SystemdCgroup: true},
	Sampling: report.Sampling{Deterministic: true,
		Why:   "a reload re-applies the scope's DeviceAllow= every time, and without \"char-pts rwm\" opening a pty is denied every time",
		Fresh: "a new container and scope on the VM node, two execs and (trigger) a reload (~3 s)"},
	Control:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return execAroundReload(ctx, r, false) },
	Trigger:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return execAroundReload(ctx, r, true) },
	Classify: classifyPtsDenied,
	Examples: runc3551Examples(),
}

// execAroundReload starts a container and runs `runc exec -t` into it
// twice, reloading systemd in between when armed. Facts: "before" and
// "after" say "ok" or what runc said; "device-allow" is the scope's
// DeviceAllow= at the second exec.
func execAroundReload(ctx context.Context, r *kit.Run, armed bool) (kit.Observation, error) {
	env := r.Env
	if env.Report.Host.PID1 != "systemd" {
		return kit.Observation{Failure: "PID 1 of node " + env.Node.Name() + " is " + env.Report.Host.PID1 + ", not systemd"}, nil
	}
	name := map[bool]string{false: "control", true: "reload"}[armed]
	unit := env.Short() + "-" + name
	spec := r.Runc.Config(fixture.ConfigOptions{Args: []string{"/init", "sleep=600"}})
	spec.Linux.CgroupsPath = "system.slice:relapse:" + unit
	// Deny all first, as `runc spec` and container managers do: runc adds
	// its default allow list (/dev/pts among it), systemd gets
	// DevicePolicy=strict.
	spec.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	dir, err := r.Runc.Bundle(ctx, name, spec)
	if err == nil {
		err = r.Runc.SaveBundle(spec, name, name+": deny-all devices under --systemd-cgroup, exec'd into with -t")
	}
	if err != nil {
		return kit.Observation{}, err
	}
	attempt := map[bool]int{false: 0, true: 1}[armed]
	c, err := r.Runc.RunDetached(ctx, attempt, dir, env.Params.Duration("create-timeout"))
	if err != nil {
		return kit.Observation{Failure: err.Error()}, nil
	}
	defer c.Delete(context.WithoutCancel(ctx))
	execT := func(when string) string {
		// script(1) gives runc a terminal, as docker exec -it has; runc's
		// errors go to a file, where they are plain text.
		errFile := filepath.Join(env.Dir, name+"-exec-"+when+".err")
		cmd := strings.Join([]string{r.Runc.Runc.Binary, "--root", r.Runc.Runc.Root, "--systemd-cgroup", "exec", "-t", c.ID, "/init", "2>" + errFile}, " ")
		out, err := env.Node.Command("script", "-qec", cmd, "/dev/null").Output(ctx)
		stderr, _ := env.Node.ReadFile(ctx, errFile)
		if err == nil && strings.Contains(string(out), `"ok":true`) {
			return "ok"
		}
		return strings.TrimSpace(string(stderr) + "\n" + err.Error())
	}
	obs := kit.Observation{Facts: map[string]string{"before": execT("before")}}
	r.Script("runc --systemd-cgroup run --detach --bundle "+name+" relapse-"+name, "script -qec 'runc --systemd-cgroup exec -t relapse-"+name+" /init' /dev/null")
	if armed {
		if err := env.Node.Command("systemctl", "daemon-reload").Run(ctx); err != nil {
			return obs, err
		}
		r.Script("systemctl daemon-reload")
	}
	show, _ := env.Node.Command("systemctl", "show", "relapse-"+unit+".scope", "-p", "DeviceAllow").Output(ctx)
	obs.Facts["device-allow"] = strings.TrimSpace(string(show))
	obs.Facts["after"] = execT("after")
	r.Script("script -qec 'runc --systemd-cgroup exec -t relapse-"+name+" /init' /dev/null", "runc delete --force relapse-"+name)
	obs.Ran = obs.Facts["before"] == "ok"
	if !obs.Ran {
		obs.Failure = "`runc exec -t` failed before any reload: " + obs.Facts["before"]
	}
	return obs, nil
}

// classifyPtsDenied: REPRODUCED when the exec after the reload is denied
// /dev/pts, NOT REPRODUCED when it works; the control must have exec'd
// twice.
func classifyPtsDenied(control, trigger kit.Observation) kit.Verdict {
	// The pseudo-terminals' rule: "char-pts" by name (1.1.4), "char-136"
	// by major (later releases).
	pts := "its DeviceAllow= has no rule for the pseudo-terminals (char-pts or char-136)"
	if allow := trigger.Fact("device-allow"); strings.Contains(allow, "char-pts rwm") || strings.Contains(allow, "char-136 rwm") {
		pts = "its DeviceAllow= keeps the pseudo-terminals' rule (char-pts or char-136)"
	}
	after := trigger.Fact("after")
	switch {
	case control.Fact("after") != "ok":
		return kit.Verdict{Result: report.Inconclusive, Reason: "the second `runc exec -t` failed without any reload: " + control.Fact("after")}
	case !trigger.Ran:
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's first `runc exec -t` failed before the reload: " + trigger.Failure}
	case after == "ok":
		return kit.Verdict{Result: report.NotReproduced, Reason: "`runc exec -t` worked before and after `systemctl daemon-reload`; " + pts}
	case strings.Contains(after, "/dev/pts/") && strings.Contains(after, "operation not permitted"):
		return kit.Verdict{Result: report.Reproduced, Kind: "exec-tty-denied-after-daemon-reload",
			Reason:  "`runc exec -t` worked, then failed after `systemctl daemon-reload`: " + (kit.Observation{Said: after}).Complaint(),
			Reasons: []string{"the control's two execs, without a reload, both worked", "the trigger's exec before the reload worked", "after the reload " + pts}}
	}
	return kit.Verdict{Result: report.Inconclusive, Reason: "`runc exec -t` failed after the reload, but not on /dev/pts: " + (kit.Observation{Said: after}).Complaint()}
}

// runc3551Examples is the verdict table Classify must reach (the unit tests run it).
func runc3551Examples() []kit.Example {
	control := kit.Ran("before", "ok", "after", "ok")
	denied := "time=\"...\" level=error msg=\"exec failed: unable to start container process: open /dev/pts/0: operation not permitted\""
	return []kit.Example{
		kit.Expect("denied after the reload", control, kit.Ran("before", "ok", "after", denied, "device-allow", "DeviceAllow=/dev/char/1:3 rwm"),
			report.Reproduced, "open /dev/pts/0: operation not permitted"),
		kit.Expect("works after the reload", control, kit.Ran("before", "ok", "after", "ok", "device-allow", "DeviceAllow=char-pts rwm"),
			report.NotReproduced, "keeps the pseudo-terminals' rule"),
		kit.Expect("works after the reload, by major", control, kit.Ran("before", "ok", "after", "ok", "device-allow", "DeviceAllow=char-136 rwm"),
			report.NotReproduced, "keeps the pseudo-terminals' rule"),
		kit.Expect("control's second exec failed", kit.Ran("before", "ok", "after", denied), kit.Ran("after", denied),
			report.Inconclusive, "without any reload"),
		kit.Expect("another failure", control, kit.Ran("before", "ok", "after", "container not running"), report.Inconclusive, "not on /dev/pts"),
		kit.Expect("no systemd", kit.Observation{Failure: "PID 1 of node x is init, not systemd"}, kit.Observation{}, report.Inconclusive, "not systemd"),
	}
}
