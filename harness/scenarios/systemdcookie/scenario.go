// Package systemdcookie reproduces systemd#11818: PID 1's D-Bus connection
// dies once its cookie passes 0xffffffff, so systemd stops answering on
// the system bus and runc's systemd cgroup driver waits for replies that
// never come. It runs only in a throw-away VM node: the trigger writes PID
// 1's memory (the cookie is moved near the wrap instead of waiting for 4.3
// billion messages), and transient-unit load through D-Bus pushes it over.
package systemdcookie

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/measure"
	"github.com/relapse-dev/relapse/harness/node/agent"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/systemdbus"
	"github.com/relapse-dev/relapse/harness/versions"
)

// Name is the scenario's name on the command line.
const Name = "systemd-cookie-overrun"

// Bug is exported for the suites.
var Bug = report.Bug{
	ID:    "systemd#11809",
	Fix:   "systemd#11818",
	Title: "systemd stops answering on D-Bus once PID 1's bus cookie passes 0xffffffff",
	Summary: "sd-bus stamps every message with ++cookie. D-Bus 1 serials are 32-bit: before v242, once PID 1's " +
		"system-bus cookie passed 0xffffffff sealing a message failed with -EOPNOTSUPP and PID 1 could no longer " +
		"reply on that connection. Callers such as runc's systemd cgroup driver wait for replies that never come; " +
		"`systemctl` (private socket) still works and `systemctl daemon-reexec` 'fixes' it. v242 wraps the cookie " +
		"to 0x80000000 and skips cookies still in use.",
	Links: []report.Link{
		{Title: "systemd/systemd#11809: sd_bus->cookie as 32bit dbus1 message serial number overflow and systemd1 dbus no response.", URL: "https://github.com/systemd/systemd/issues/11809"},
		{Title: "systemd/systemd#11818: sd-bus: deal with cookie overruns (the fix, v242)", URL: "https://github.com/systemd/systemd/pull/11818"},
		{Title: "systemd/systemd#11390: systemd stop read and process dbus event of runc cgroup invokes (systemd 219, CentOS 7.4)", URL: "https://github.com/systemd/systemd/issues/11390"},
		{Title: "opencontainers/runc#1959: docker-runc hang on checking systemd.UseSystemd", URL: "https://github.com/opencontainers/runc/issues/1959"},
		{Title: "lnykryn/systemd-rhel#322: (#1693559) sd-bus: deal with cookie overruns (the RHEL 7 backport)", URL: "https://github.com/lnykryn/systemd-rhel/pull/322"},
	},
	Component: "systemd",
	Affected:  "< 242",
	Fixed:     "v242 (systemd#11818 wraps the cookie to 0x80000000); RHEL/CentOS 7 systemd-219 backports",
}

// Scenario is systemd#11818.
type Scenario struct{}

func init() { scenario.Register(Scenario{}) }

func (Scenario) Name() string    { return Name }
func (Scenario) Bug() report.Bug { return Bug }

// Sampling: once PID 1's cookie passes 0xffffffff an affected systemd can
// seal no further message on that connection: every call fails.
func (Scenario) Sampling() report.Sampling {
	return report.Sampling{Deterministic: true,
		Why: "before v242 sd-bus refuses to seal any message whose cookie passes 0xffffffff, so once the cookie was seen wrapping " +
			"with systemd still answering, the systemd under test handles the overrun",
		Fresh: "PID 1's cookie moved near the wrap again on the same VM node and pushed over by new D-Bus load (~60-90 s)"}
}
func (Scenario) Components() []versions.Builder { return []versions.Builder{versions.RuncRecipe} }

// DefaultVersions: the runc whose systemd driver starts the containers.
func (Scenario) DefaultVersions() map[string]string { return map[string]string{"runc": "1.1.14"} }

// CheckNode refuses nodes the trigger must not touch: it writes PID 1's
// memory, and only a VM node has a PID 1 that can be thrown away.
func (Scenario) CheckNode(provider string) error {
	if provider == "qemu" || provider == "vagrant" {
		return nil
	}
	return fmt.Errorf("scenario %s writes PID 1's memory and needs systemd as PID 1: it runs only on a throw-away VM node (PROVIDER=qemu or PROVIDER=vagrant), not on %q", Name, provider)
}

func (Scenario) Params() []scenario.Param {
	return []scenario.Param{
		scenario.IntParam("margin", 300, 1, 1<<20, "PID 1's cookie is moved to 0xffffffff minus this many messages"),
		scenario.IntParam("rate", 10, 1, 500, "transient units per second started and stopped through D-Bus to push the cookie over"),
		scenario.DurationParam("load-duration", "90s", false, "longest the D-Bus load runs before the run gives up on reaching the wrap"),
		scenario.DurationParam("after-wrap", "10s", false, "how long systemd is sampled after its cookie wrapped before deciding it still answers"),
		scenario.IntParam("consecutive", 5, 2, 1000, "system-bus calls in a row that must time out (private socket answering) to call systemd unresponsive"),
		scenario.DurationParam("call-timeout", "2s", false, "deadline of one probe call to PID 1"),
		scenario.IntParam("containers", 3, 0, 50, "runc --systemd-cgroup containers started after the wrap (or the stall), to show runc's side"),
	}
}

// overrun is one run of the scenario.
type overrun struct {
	env *scenario.Env
	kit *runckit.Kit
}

func (s Scenario) Run(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	r := &overrun{env: env}
	p := params(env.Params)
	if env.Report.Host.PID1 != "systemd" {
		return report.Inconclusive, fmt.Sprintf("PID 1 of node %s is %q, not systemd", env.Node.Name(), env.Report.Host.PID1), nil
	}
	if err := r.observeSystemd(ctx); err != nil {
		return report.Inconclusive, "", err
	}
	kit, err := runckit.New(ctx, env, runckit.Options{SystemdCgroup: true})
	if err != nil {
		return report.Inconclusive, "", err
	}
	r.kit = kit
	if env.Report.Reproduce, err = manualSteps(p); err != nil {
		return report.Inconclusive, "", err
	}

	watch, err := (&detect.SystemdBus{Node: env.Node, Timeout: p.callTimeout}).Start(ctx)
	if err != nil {
		return report.Inconclusive, "", err
	}
	env.DeferCleanup("stop the systemd D-Bus probe", func(context.Context) error { watch.Stop(); return nil })
	defer func() { r.recordSamples(watch) }()

	// Baseline: systemd answers and runc's systemd driver works, before
	// anything is changed, or a later failure would prove nothing.
	time.Sleep(2 * time.Second)
	if base := r.container(ctx, 0); !base.Started {
		return report.Inconclusive, "the control runc --systemd-cgroup container did not start: " + base.Record.Outcome, nil
	}
	if st := detect.ClassifyBus(watch.Samples(), p.consecutive, p.callTimeout); st.SystemOK == 0 {
		return report.Inconclusive, "systemd did not answer the probe on the system bus before the trigger", nil
	}
	// A call timeout is a threshold: scale it with what this node measured
	// before the trigger (an emulated node under load answers in seconds).
	if scaled := baselineTimeout(watch.Samples(), p.callTimeout); scaled > p.callTimeout {
		watch.Stop()
		env.Condition("D-Bus call timeout", fmt.Sprintf("%s: ten times the baseline's p99 system-bus latency (the parameter said %s)", scaled.Round(time.Millisecond), p.callTimeout))
		p.callTimeout = scaled
		if watch, err = (&detect.SystemdBus{Node: env.Node, Timeout: p.callTimeout}).Start(ctx); err != nil {
			return report.Inconclusive, "", err
		}
	}

	move, err := r.moveCookie(ctx, p.margin)
	if err != nil {
		return report.Inconclusive, "could not move PID 1's bus cookie: " + err.Error(), nil
	}
	load, err := chaos.DBusLoad{Rate: float64(p.rate), Duration: p.loadDuration, Prefix: "relapse-load-" + env.Short()}.Start(ctx, env.Node, env.Ledger)
	if err != nil {
		return report.Inconclusive, "", err
	}
	env.Event("D-Bus load started", fmt.Sprintf("%d transient units/s", p.rate))
	_, why := r.watchUntil(ctx, watch, p)
	load.Stop()
	lp := load.Last()
	env.Condition("D-Bus load", fmt.Sprintf("%d units started, %d stopped, %d errors (%d timeouts); StartTransientUnit p50 %.1f ms, max %.1f ms in its last second",
		lp.Started, lp.Stopped, lp.Errors, lp.Timeouts, lp.P50Ms, lp.MaxMs))
	env.Event("watch ended", why)

	var started, stuck int
	for n := 1; n <= p.containers && ctx.Err() == nil; n++ {
		if r.container(ctx, n).Started {
			started++
		} else {
			stuck++
		}
	}
	st := detect.ClassifyBus(watch.Samples(), p.consecutive, p.callTimeout)
	dropped := r.journalEvidence(ctx)
	if ctx.Err() != nil && !st.Unresponsive {
		return report.Inconclusive, "interrupted before systemd was seen answering or not after the wrap", nil
	}
	return r.decide(st, move, p, started, stuck, dropped)
}

type settings struct {
	margin, rate, consecutive, containers int
	loadDuration, afterWrap, callTimeout  time.Duration
}

func params(v scenario.Values) settings {
	return settings{margin: v.Int("margin"), rate: v.Int("rate"), consecutive: v.Int("consecutive"), containers: v.Int("containers"),
		loadDuration: v.Duration("load-duration"), afterWrap: v.Duration("after-wrap"), callTimeout: v.Duration("call-timeout")}
}

// baselineTimeout is ten times the 99th percentile of the system-bus calls
// answered before the trigger, or timeout when that is larger.
func baselineTimeout(samples []systemdbus.Sample, timeout time.Duration) time.Duration {
	var lat measure.Latencies
	for _, s := range samples {
		if s.Bus == "system" && s.OK() {
			lat.Add(time.Duration(s.Ms * float64(time.Millisecond)))
		}
	}
	return lat.Scaled(timeout, 10)
}

var systemdVersion = regexp.MustCompile(`^systemd ([0-9]+)(?: \(([^)]*)\))?`)

// parseSystemdVersion reads `systemctl --version`'s first line:
// "systemd 252 (252.39-1~deb12u2)" -> 252.39, "systemd 219" -> 219.
func parseSystemdVersion(line string) (string, error) {
	m := systemdVersion.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "", fmt.Errorf("cannot parse systemd's version from %q", line)
	}
	// The parenthesised build names the upstream point release.
	if pt := regexp.MustCompile(`^([0-9]+)\.[0-9]+`).FindStringSubmatch(m[2]); pt != nil && pt[1] == m[1] {
		return pt[0], nil
	}
	return m[1], nil
}

// observeSystemd records PID 1's systemd version: the bug's range is about
// what the node runs, not about something relapse built.
func (r *overrun) observeSystemd(ctx context.Context) error {
	out, err := r.env.Node.Command("systemctl", "--version").Output(ctx)
	if err != nil {
		return fmt.Errorf("reading systemd's version: %w", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	version, err := parseSystemdVersion(first)
	if err != nil {
		return err
	}
	r.env.Observe("systemd", version)
	r.env.Condition("systemd (PID 1)", strings.TrimSpace(first))
	return nil
}

// moveCookie runs the agent's cookie mover and records it as a change of
// the node; it cannot be undone and needs not be: the node is destroyed.
func (r *overrun) moveCookie(ctx context.Context, margin int) (systemdbus.CookieMove, error) {
	env := r.env
	target := cookieTarget(margin)
	var move systemdbus.CookieMove
	mctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := env.Node.Command(agent.NodePath, "bus-cookie", strconv.FormatUint(target, 10))
	var out []byte
	err := env.Timed("move PID 1's bus cookie", fmt.Sprintf("to %d (0xffffffff - %d)", target, margin), func() (err error) {
		out, err = cmd.Output(mctx)
		return err
	})
	if err != nil {
		return move, err
	}
	if err := json.Unmarshal(out, &move); err != nil {
		return move, fmt.Errorf("decoding bus-cookie output %q: %w", out, err)
	}
	env.Ledger.AddDisposable(report.Change{Kind: "pid1-memory", Target: fmt.Sprintf("sd_bus cookie of PID 1's system-bus connection at %#x", move.Address),
		Before: strconv.FormatUint(move.Before, 10), Applied: strconv.FormatUint(move.Target, 10)},
		"lives only in the VM node's PID 1, destroyed with the node after the run")
	env.Condition("PID 1's bus cookie", fmt.Sprintf("found at %#x by scanning %d writable regions (%d MiB) of PID 1 for the serial it had just sent; candidates per round %v%s; moved from %d to %d; next serial PID 1 sent: %d",
		move.Address, move.Regions, move.Bytes>>20, move.Candidates, rejected(move.Rejected), move.Before, move.Target, move.After))
	env.Report.Reproduce += "\n# relapse's command on the node: " + cmd.String() + "\n"
	return move, nil
}

// rejected names the addresses the mover wrote, saw PID 1 ignore and put
// back, for the report.
func rejected(addrs []uint64) string {
	if len(addrs) == 0 {
		return ""
	}
	hex := make([]string, len(addrs))
	for i, a := range addrs {
		hex[i] = fmt.Sprintf("%#x", a)
	}
	return "; written and put back (copies PID 1 did not continue from): " + strings.Join(hex, ", ")
}

// watchUntil samples until systemd is classified unresponsive, or has
// answered for after-wrap past the wrap, or the load ends without a wrap.
func (r *overrun) watchUntil(ctx context.Context, watch *detect.BusWatch, p settings) (detect.BusState, string) {
	deadline := time.Now().Add(p.loadDuration + 30*time.Second)
	var wrappedAt time.Time
	for {
		st := detect.ClassifyBus(watch.Samples(), p.consecutive, p.callTimeout)
		switch {
		case st.Unresponsive:
			r.env.Step(report.Step{At: st.Since, Name: "detected", Detail: "systemd stopped answering on the system bus", Status: "failed"})
			return st, "systemd unresponsive on the system bus"
		case st.Wrapped && wrappedAt.IsZero():
			wrappedAt = time.Now()
			r.env.Event("cookie wrapped", fmt.Sprintf("PID 1's serials went past 0xffffffff (highest seen %d)", st.MaxCookie))
		case !wrappedAt.IsZero() && time.Since(wrappedAt) >= p.afterWrap:
			return st, fmt.Sprintf("systemd answered for %s after its cookie wrapped", p.afterWrap)
		}
		if exited, err := watch.Exited(); exited {
			return st, fmt.Sprintf("the D-Bus probe exited: %v", err)
		}
		select {
		case <-ctx.Done():
			return st, "interrupted"
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return st, "deadline passed without a wrap or a stall"
		}
	}
}

// container starts one runc --systemd-cgroup container and waits for its
// init to run, under one deadline: on an affected systemd runc waits for
// a D-Bus reply that never comes.
func (r *overrun) container(ctx context.Context, n int) *runckit.Outcome {
	out := &runckit.Outcome{}
	id := r.kit.ContainerID(n)
	spec := r.kit.Config(fixture.ConfigOptions{CgroupsPath: "system.slice:relapse:" + id})
	bundle, err := r.kit.Bundle(ctx, id, spec)
	if err != nil {
		out.Record.Outcome = err.Error()
		return out
	}
	label := ""
	if n == 0 {
		label = "control: before PID 1's cookie was moved"
	}
	return r.kit.Try(ctx, runckit.Try{N: n, Bundle: bundle, Timeout: containerTimeout, Label: label})
}

// containerTimeout bounds one container start through systemd. A start
// that passes it is not the bug by itself: the verdict rests on the bus
// probe, and such a start only counts against NOT REPRODUCED.
const containerTimeout = 40 * time.Second

// journalEvidence keeps what PID 1 and dbus-daemon logged about the bus.
// It returns whether PID 1 lost its API bus connection (systemd logs "Got
// disconnect on API bus." and connects again).
func (r *overrun) journalEvidence(ctx context.Context) (apiBusDropped bool) {
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := r.env.Node.Command("journalctl", "-b", "--no-pager", "-o", "short-precise", "_PID=1", "+", "_COMM=dbus-daemon").Output(jctx)
	if err != nil {
		return false
	}
	apiBusDropped = strings.Contains(string(out), apiBusDisconnect)
	// The load's own start/stop lines would drown what matters.
	interesting := regexp.MustCompile(`(?i)cookie|not supported|propagate|failed|timed? ?out|dbus-daemon|monitor|disconnect|API bus`)
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if interesting.MatchString(l) && !strings.Contains(l, "relapse D-Bus load") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 40 {
		keep = keep[len(keep)-40:]
	}
	r.env.Evidence("journal of PID 1 and dbus-daemon (bus-related lines, last 40)", strings.Join(keep, "\n"))
	return apiBusDropped
}

// apiBusDisconnect is what PID 1 logs when its system-bus (API) connection
// ends; it then connects again with a new connection and cookie 1.
const apiBusDisconnect = "Got disconnect on API bus"

// recordSamples saves the probe's samples with the report and summarises them.
func (r *overrun) recordSamples(watch *detect.BusWatch) {
	samples := watch.Samples()
	var b strings.Builder
	for _, s := range samples {
		line, _ := json.Marshal(s)
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(r.env.ReportDir, "dbus-samples.jsonl"), []byte(b.String()), 0o644); err == nil {
		r.env.File(report.File{Name: "dbus-samples.jsonl", Path: "dbus-samples.jsonl",
			Description: "every probe call to PID 1: bus, method, latency, timeout, PID 1's cookie at the time"})
	}
	summary := detect.LatencySummary(samples)
	var keys []string
	for k := range summary {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		q := summary[k]
		lines = append(lines, fmt.Sprintf("%-22s p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms", k, q[0], q[1], q[2]))
	}
	lines = append(lines, "", "serials PID 1 sent around the wrap:", wrapSerials(samples))
	r.env.Evidence(fmt.Sprintf("D-Bus probe: %d samples", len(samples)), strings.Join(lines, "\n"))
}

// wrapSerials lists the distinct cookies seen near 0xffffffff and after.
func wrapSerials(samples []systemdbus.Sample) string {
	var seen []string
	last := uint32(0)
	for _, s := range samples {
		if s.Cookie != last && (s.Cookie >= 0xffffff00 || s.Wrapped) {
			seen = append(seen, fmt.Sprintf("%d (%#x)", s.Cookie, s.Cookie))
			last = s.Cookie
		}
		if len(seen) >= 24 {
			break
		}
	}
	if len(seen) == 0 {
		return "(none seen near 0xffffffff)"
	}
	return strings.Join(seen, " -> ")
}

// decide: REPRODUCED only when the detector saw systemd stop answering on
// the system bus after the trigger; NOT REPRODUCED only when the cookie
// was seen wrapping and systemd kept answering (and runc kept starting
// containers through it); anything else proves nothing.
func (r *overrun) decide(st detect.BusState, move systemdbus.CookieMove, p settings, started, stuck int, apiBusDropped bool) (report.Result, string, error) {
	env := r.env
	env.Condition("probe calls", fmt.Sprintf("system bus: %d answered, %d timed out; private socket: %d answered; answered after the wrap: %d",
		st.SystemOK, st.SystemTimeouts, st.PrivateOK, st.AnsweredAfterWrap))
	if st.Unresponsive && uint64(st.MaxCookie) < move.Target {
		return report.Inconclusive, fmt.Sprintf("systemd stopped answering on the system bus, but its cookie was last seen at %d, below where it was moved (%d): the silence is not the overrun's", st.MaxCookie, move.Target), nil
	}
	if st.Unresponsive {
		st.Reasons = append(st.Reasons, fmt.Sprintf("the silence began with PID 1's cookie at %d, %d below 0xffffffff: the next serials would pass it", st.MaxCookie, uint32(0xffffffff)-st.MaxCookie))
		f := report.Finding{Detector: "systemd-bus", Kind: detect.KindSystemdUnresponsive, At: time.Now().UTC(), OnsetAt: st.Since,
			Summary: fmt.Sprintf("systemd stopped answering on the system bus after PID 1's cookie was moved to %d and pushed toward 0xffffffff", move.Target),
			Reasons: append(st.Reasons, fmt.Sprintf("%d of %d runc --systemd-cgroup containers after the stall did not start", stuck, started+stuck))}
		env.Finding(f)
		return report.Reproduced, f.Summary, nil
	}
	if !st.Wrapped && st.MaxCookie == 0xffffffff && apiBusDropped {
		// Seen on systemd 252 with systemd#11818 reverted: the overrun is
		// restored (no serial past 0xffffffff), but sd-bus closes a
		// connection whose processing fails and PID 1 connects again, so
		// the silence of systemd#11809 never comes.
		silence := "no system-bus call timed out"
		if st.LongestSilenceCalls > 0 {
			silence = fmt.Sprintf("system-bus calls went unanswered for %s (%d calls in a row) until it was back", st.LongestSilence.Round(100*time.Millisecond), st.LongestSilenceCalls)
		}
		env.Condition("overrun outcome", fmt.Sprintf("PID 1 sent serial 0xffffffff and none after it on that connection; then it logged %q and connected again; "+
			"%s; %d system-bus calls answered, %d timed out in all", apiBusDisconnect+".", silence, st.SystemOK, st.SystemTimeouts))
		return report.Inconclusive, "PID 1's cookie reached 0xffffffff and no later serial was sent on that connection (the overrun happened), but PID 1 " +
			"then dropped its API bus connection and connected again (" + silence + "): this systemd recovers from the overrun " +
			"by reconnecting, which the affected releases did not; systemd#11809's lasting silence was not seen", nil
	}
	if !st.Wrapped {
		return report.Inconclusive, fmt.Sprintf("PID 1's cookie did not reach the wrap (highest seen %d, moved to %d): nothing about the overrun was tested", st.MaxCookie, move.Target), nil
	}
	if st.AnsweredAfterWrap < p.consecutive {
		return report.Inconclusive, fmt.Sprintf("the cookie wrapped but only %d system-bus calls were answered after it (and systemd was not classified unresponsive)", st.AnsweredAfterWrap), nil
	}
	if stuck > 0 {
		return report.Inconclusive, fmt.Sprintf("systemd answered after the wrap but %d of %d runc --systemd-cgroup containers did not start: another failure, see the attempts", stuck, started+stuck), nil
	}
	return report.NotReproduced, fmt.Sprintf("PID 1's cookie passed 0xffffffff (highest %d) and wrapped; systemd answered %d system-bus calls after the wrap and %d runc --systemd-cgroup containers started through it",
		st.MaxCookie, st.AnsweredAfterWrap, started), nil
}
