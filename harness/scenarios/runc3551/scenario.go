package runc3551

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Name is the scenario's name on the command line: the upstream id.
const Name = "runc-3551"

// KindPtsDenied is the finding: exec -t worked before the reload and was
// denied the terminal after it.
const KindPtsDenied = "exec-tty-denied-after-daemon-reload"

// Scenario is runc#3551.
type Scenario struct{}

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string { return Name }

// Bug is exported for the suites, which label specs with it.
var Bug = report.Bug{
	ID:    "runc#3551",
	Fix:   "runc#3554",
	Title: "runc 1.1.3 with the systemd cgroup driver: `runc exec -t` fails \"open /dev/pts/0: operation not permitted\" after `systemctl daemon-reload`",
	Summary: "runc 1.1.3 (runc#3504) skips device rules whose path does not exist when it writes the systemd unit's DeviceAllow=. " +
		"Wildcard rules are written as \"char-pts\" or \"block-*\", names, not paths, so the scope lost \"char-pts rwm\". runc also " +
		"applies the rules to the cgroup itself, which hides the loss until `systemctl daemon-reload` makes systemd re-apply the " +
		"unit's own rules: from then on the container may not open a new pseudo-terminal and `runc exec -t` (`docker exec -it`, " +
		"`kubectl exec -it`) fails. runc 1.1.4 (runc#3554, runc#3559 on main) checks paths only for /dev entries.",
	Links: []report.Link{
		{Title: "opencontainers/runc#3551: OCI runtime exec failed: open /dev/pts/0: operation not permitted (the report)", URL: "https://github.com/opencontainers/runc/issues/3551"},
		{Title: "opencontainers/runc#3554: [1.1] Fix failed exec after systemctl daemon-reload (the fix, v1.1.4)", URL: "https://github.com/opencontainers/runc/pull/3554"},
		{Title: "opencontainers/runc#3559: Fix failed exec after systemctl daemon-reload (the same on main)", URL: "https://github.com/opencontainers/runc/pull/3559"},
		{Title: "containerd/containerd#7219: Failed to exec into the container after 'systemctl daemon-reload' (the seed, runc 1.1.3)", URL: "https://github.com/containerd/containerd/issues/7219"},
		{Title: "runc v1.1.4 release notes: Fix failed exec after systemctl daemon-reload", URL: "https://github.com/opencontainers/runc/releases/tag/v1.1.4"},
	},
	Component:  "runc",
	Affected:   ">= 1.1.3, < 1.1.4",
	Introduced: "v1.1.3 (commit 7219387e, runc#3504: skip device rules without a path)",
	Fixed:      "v1.1.4 (runc#3554: only /dev paths are checked)",
}

func (Scenario) Bug() report.Bug { return Bug }

// Sampling: systemd re-applies the unit's rules on every reload.
func (Scenario) Sampling() report.Sampling {
	return report.Sampling{Deterministic: true,
		Why:   "a reload re-applies the scope's DeviceAllow= every time, and without \"char-pts rwm\" opening a pty is denied every time",
		Fresh: "a new container and scope on the same VM node, two execs and a reload (~3 s)"}
}

func (Scenario) Components() []versions.Builder { return []versions.Builder{versions.RuncRecipe} }

// CheckNode: the trigger reloads PID 1, which only a VM node may have
// done to it.
func (Scenario) CheckNode(provider string) error {
	if provider == "qemu" || provider == "vagrant" {
		return nil
	}
	return fmt.Errorf("scenario %s runs `systemctl daemon-reload` and needs systemd as PID 1: it runs only on a throw-away VM node (PROVIDER=qemu or PROVIDER=vagrant), not on %q", Name, provider)
}

func (Scenario) Params() []scenario.Param { return nil }

// exec is what one `runc exec -t` showed.
type exec struct {
	ok     bool
	output string
}

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	if env.Report.Host.PID1 != "systemd" {
		return report.Inconclusive, fmt.Sprintf("PID 1 of node %s is %q, not systemd", env.Node.Name(), env.Report.Host.PID1), nil
	}
	if v, err := env.Node.Command("systemctl", "--version").Output(ctx); err == nil {
		env.Condition("systemctl --version", strings.SplitN(strings.TrimSpace(string(v)), "\n", 2)[0])
	}
	kit, err := runckit.New(ctx, env, runckit.Options{SystemdCgroup: true})
	if err != nil {
		return report.Inconclusive, "", err
	}
	name := "pts"
	unit := "relapse-" + env.Short() + "-" + name
	spec := kit.Config(fixture.ConfigOptions{Args: []string{"/init", "sleep=600"}, CgroupsPath: "system.slice:relapse:" + unit[len("relapse-"):]})
	// Deny all first, as `runc spec` and every container manager do: runc
	// then appends its default allow list (/dev/pts among it) and systemd
	// gets DevicePolicy=strict.
	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	spec.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	bundle, err := kit.Bundle(ctx, name, spec)
	if err != nil {
		return report.Inconclusive, "", err
	}
	if err := kit.SaveBundle(spec, name, "the container exec'd into: deny-all devices, --systemd-cgroup"); err != nil {
		return report.Inconclusive, "", err
	}
	c, err := kit.RunDetached(ctx, name, bundle)
	if err != nil {
		return report.Inconclusive, "", err
	}
	defer func() { _ = c.Delete(context.WithoutCancel(ctx)) }()
	scope := unit + ".scope"
	deviceAllow := func(when string) string {
		out, err := env.Node.Command("systemctl", "show", scope, "-p", "DevicePolicy", "-p", "DeviceAllow").Output(ctx)
		if err != nil {
			return ""
		}
		env.Evidence("systemctl show "+scope+" "+when, strings.TrimSpace(string(out)))
		return string(out)
	}
	execT := func(when string) exec {
		// script(1) gives runc a terminal, as docker exec -it has; runc's
		// own errors go to a file, where they are plain text.
		errFile := filepath.Join(env.Dir, "exec-"+when+".err")
		cmd := []string{kit.Runc.Binary, "--root", kit.Runc.Root, "--systemd-cgroup", "exec", "-t", c.ID, "/init", "2>" + errFile}
		out, err := env.Node.Command("script", "-qec", strings.Join(cmd, " "), "/dev/null").Output(ctx)
		stderr, _ := env.Node.ReadFile(ctx, errFile)
		e := exec{output: printable(string(out) + "\n" + string(stderr))}
		e.ok = err == nil && strings.Contains(e.output, `"ok":true`)
		if err != nil {
			e.output += "\n(" + printable(err.Error()) + ")"
		}
		env.Evidence("runc exec -t "+when+" the reload", e.output)
		return e
	}
	deviceAllow("before the reload")
	before := execT("before")
	if err := env.Node.Command("systemctl", "daemon-reload").Run(ctx); err != nil {
		return report.Inconclusive, "", fmt.Errorf("systemctl daemon-reload: %w", err)
	}
	allow := deviceAllow("after the reload")
	after := execT("after")
	res, reason, f := judge(before, after)
	if res == report.NotReproduced {
		reason += "; " + ptsRule(allow)
	}
	if f != nil {
		f.Reasons = append(f.Reasons, "the scope is "+scope+"; "+ptsRule(allow))
		env.Finding(*f)
	}
	return res, reason, nil
}

// judge decides: the control exec must work; REPRODUCED when the exec
// after the reload is denied the pty, NOT REPRODUCED when it works.
func judge(before, after exec) (report.Result, string, *report.Finding) {
	if !before.ok {
		return report.Inconclusive, "`runc exec -t` failed before any reload, so a failure after one would prove nothing: " + firstLine(before.output), nil
	}
	if after.ok {
		return report.NotReproduced, "`runc exec -t` worked before and after `systemctl daemon-reload`: the scope kept access to /dev/pts", nil
	}
	if strings.Contains(after.output, "/dev/pts/") && strings.Contains(after.output, "operation not permitted") {
		f := &report.Finding{Detector: "runc-exec-tty", Kind: KindPtsDenied, Samples: 2,
			Summary: "`runc exec -t` worked, then failed after `systemctl daemon-reload`: " + ptsLine(after.output),
			Reasons: []string{"the same exec into the same container worked before the reload", "after it runc could not open the container's pseudo-terminal"}}
		return report.Reproduced, f.Summary, f
	}
	return report.Inconclusive, "`runc exec -t` failed after the reload, but not on /dev/pts: " + firstLine(after.output), nil
}

// ptsRule says whether systemd's DeviceAllow= for the scope grants the
// pseudo-terminals (runc 1.1.4 writes "char-pts rwm"; 1.1.3 drops it).
func ptsRule(show string) string {
	if strings.Contains(show, "char-pts") {
		return "its DeviceAllow= has char-pts"
	}
	return "its DeviceAllow= has no char-pts rule"
}

// printable drops terminal control characters (script's NULs and
// carriage returns), keeping newlines and tabs.
func printable(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, s))
}

func firstLine(s string) string { return strings.SplitN(strings.TrimSpace(s), "\n", 2)[0] }

// ptsLine is the line of out naming /dev/pts, or its first line.
func ptsLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "/dev/pts/") {
			return strings.TrimSpace(l)
		}
	}
	return firstLine(out)
}
