package runcbugs

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// cri-o#4491: CRI-O's pods stuck in ContainerCreating because runc before
// v1.0.0-rc91 dropped a seccomp rule's errnoRet (runc#2424 honours it), so
// clone3 -> ERRNO(ENOSYS) became the default action, which libseccomp
// refuses. The control runs the profile without its errnoRet rules, the
// trigger with them: bare runc with Docker's default profile, or
// (engine=podman) podman and conmon with containers/common's: the seed's.
func init() { kit.Register(crio4491) }

//go:embed cri-o-4491
var crio4491Fixtures embed.FS

const containersProfile = "/usr/share/containers/seccomp.json" // containers/common's (Debian's package)

var crio4491 = &kit.Bug{
	ID:      "cri-o#4491",
	Aliases: []string{"runc-seccomp-errnoret"},
	Fix:     []string{"runc#2424"},
	Title:   "runc before v1.0.0-rc91 ignores seccomp errnoRet: a profile's clone3 -> ENOSYS rule equals the default action and the container cannot start",
	Summary: "OCI seccomp rules may carry errnoRet, the errno a denied syscall returns. runc before v1.0.0-rc91 dropped it, so clone3 -> " +
		"SCMP_ACT_ERRNO with errnoRet 38 (ENOSYS, in Docker's, containerd's and containers/common's default profiles since 2021) became " +
		"SCMP_ACT_ERRNO with EPERM, the profile's default action. libseccomp refuses a rule equal to the default action (libseccomp 2.5: " +
		"EACCES, \"permission denied\"), so runc fails and CRI-O's pods stay in ContainerCreating. runc#2424 passes errnoRet to libseccomp.",
	Links: []report.Link{
		{Title: "cri-o/cri-o#4491: crio v1.20 support for k3s and calico on centos7 (the seed's pods in ContainerCreating)", URL: "https://github.com/cri-o/cri-o/issues/4491"},
		{Title: "opencontainers/runc#2424: libcontainer: honor seccomp errnoRet (the fix, v1.0.0-rc91)", URL: "https://github.com/opencontainers/runc/pull/2424"},
		{Title: "containerd/containerd#6203: error adding seccomp filter rule for syscall clone3: permission denied (old runc with the clone3 rule)", URL: "https://github.com/containerd/containerd/issues/6203"},
		{Title: "cri-o/cri-o#5117: requested action matches default action of filter (rules equal to the default action, skipped since runc v1.0.2)", URL: "https://github.com/cri-o/cri-o/issues/5117"},
	},
	Component:           "runc",
	LastAffected:        "1.0.0-rc90",
	FirstFixed:          "1.0.0-rc91",
	AffectedUnbuildable: "runc releases before 1.0.0-rc91 have no go.mod and no vendor/: the module proxy cannot build them",
	Revert:              "revert-2424-v1.0.0-rc91.patch",
	Fixtures:            crio4491Fixtures,
	Sampling: report.Sampling{Deterministic: true,
		Why:   "libseccomp checks every rule against the default action when runc adds it, the same way on every start: one container per side decides",
		Fresh: "a control and a trigger container in a fresh runc state root (~1 s); with engine=podman a fresh podman storage root too (~2 s)"},
	Params: []scenario.Param{scenario.ChoiceParam("engine", "runc", "runc: bare `runc run` with Docker's default profile; "+
		"podman: podman run with Debian's conmon and containers/common's profile, the runc under test as its runtime", "runc", "podman")},
	CellParams: map[string][]string{"engine": {"runc", "podman"}},
	Control:    func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return errnoStart(ctx, r, false) },
	Trigger:    func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return errnoStart(ctx, r, true) },
	Classify:   classify4491,
	Examples:   crio4491Examples(),
}

// errnoStart starts one container whose profile lacks its errnoRet rules
// (the control) or has them (the trigger). Its facts: what clone3 returned
// inside, the rules, and each rule's errnoRet ("errnoRet clone3": "38").
func errnoStart(ctx context.Context, r *kit.Run, armed bool) (kit.Observation, error) {
	podman := r.Env.Params.String("engine") == "podman"
	source, raw, err := "Docker's default profile (github.com/moby/profiles/seccomp)", []byte(nil), error(nil)
	if podman {
		source = containersProfile + " (containers/common: CRI-O's and podman's)"
		raw, err = r.Env.Node.ReadFile(ctx, containersProfile)
	} else {
		raw, err = json.Marshal(mobyseccomp.DefaultProfile())
	}
	if err != nil {
		return kit.Observation{}, fmt.Errorf("reading %s: %w (ci/deps.sh podman installs containers/common's)", source, err)
	}
	profiles, errnos, rules, redundant, err := splitProfile(raw)
	if err != nil {
		return kit.Observation{}, fmt.Errorf("%s: %w", source, err)
	}
	name, label, profile := "control", "control: the profile without its errnoRet rules", profiles[0]
	if armed {
		name, label, profile = "trigger", "trigger: the profile with its errnoRet rules", profiles[1]
		r.Env.Condition("seccomp profile", source+", default action SCMP_ACT_ERRNO; noNewPrivileges false, as in Kubernetes: runc loads the filter while its init pipe is open")
		r.Env.Condition("errnoRet rules", rules+fmt.Sprintf(" (the trigger has them, the control does not); %d rules whose errnoRet is EPERM are left out of both: "+
			"they equal the default action with or without errnoRet, and runc before v1.0.2 refuses them (cri-o#5117, a different bug)", redundant))
	}
	var c kit.Container
	if podman {
		c, err = r.Podman(ctx, name, label, []string{"probe=clone3"}, profile)
	} else if seccomp, lerr := mobyseccomp.LoadProfile(string(profile), r.Runc.Config(fixture.ConfigOptions{})); lerr != nil {
		return kit.Observation{}, lerr // Docker's profile depends on the container's capabilities
	} else {
		c, err = r.Container(ctx, name, label, []string{"probe=clone3"}, func(s *specs.Spec) { s.Linux.Seccomp = seccomp })
	}
	obs := c.Observation
	obs.Facts = map[string]string{"rules": rules}
	maps.Copy(obs.Facts, errnos)
	if probe, ok := c.Init.Probes["clone3"]; c.Ran && ok {
		obs.Facts["clone3"] = strconv.Itoa(probe)
	}
	return obs, err
}

// splitProfile derives the control's and the trigger's profiles from a
// Docker-format one (Docker's, containers/common's), whole otherwise: the
// trigger keeps the errnoRet rules whose errno is not EPERM (1), the
// control has none. Rules whose errnoRet is EPERM equal the default action
// for any runc, fixed or not (cri-o#5117): both leave them out. errnos
// maps "errnoRet SYSCALL" to the errno of each rule kept; rules describes
// them ("clone3 -> SCMP_ACT_ERRNO errnoRet 38").
func splitProfile(raw []byte) (profiles [2][]byte, errnos map[string]string, rules string, redundant int, err error) {
	var profile map[string]any
	if err := json.Unmarshal(raw, &profile); err != nil {
		return profiles, nil, "", 0, err
	}
	calls, _ := profile["syscalls"].([]any)
	var plain, withErrno []any
	var described []string
	errnos = map[string]string{}
	for _, c := range calls {
		m, _ := c.(map[string]any)
		switch e, has := m["errnoRet"].(float64); {
		case !has:
			plain = append(plain, c)
		case e == 1:
			redundant++
		default:
			names, _ := m["names"].([]any)
			for _, n := range names {
				errnos[fmt.Sprint("errnoRet ", n)] = fmt.Sprint(e)
			}
			described = append(described, fmt.Sprintf("%s -> %s errnoRet %g", strings.ReplaceAll(strings.Trim(fmt.Sprint(names), "[]"), " ", ","), m["action"], e))
			withErrno = append(withErrno, c)
		}
	}
	if len(withErrno) == 0 {
		return profiles, nil, "", 0, fmt.Errorf("no rule carries an errnoRet other than EPERM: nothing to trigger")
	}
	for i, calls := range [][]any{plain, append(plain, withErrno...)} {
		profile["syscalls"] = calls
		if profiles[i], err = json.MarshalIndent(profile, "", "  "); err != nil {
			return profiles, nil, "", 0, err
		}
	}
	return profiles, errnos, strings.Join(described, "; "), redundant, nil
}

// ruleFailure is runc's message for a rule libseccomp refused (both wordings runc used).
var ruleFailure = regexp.MustCompile(`error adding seccomp (?:filter )?rule for syscall ([a-z0-9_]+): ([^"\n]+)`)

// classify4491: REPRODUCED when runc failed adding one of the trigger's
// errnoRet rules (libseccomp's wording differs by version, so the rule
// decides, not the text); NOT REPRODUCED when the trigger ran and its
// clone3 probe got the rule's errno.
func classify4491(control, trigger kit.Observation) kit.Verdict {
	if trigger.Ran {
		if want := trigger.Fact("errnoRet clone3"); want != "" && trigger.Fact("clone3") != want {
			return kit.Verdict{Result: report.Inconclusive, Reason: fmt.Sprintf("the trigger ran, but clone3 returned errno %q inside, not the rule's errnoRet %s: the filter in force is not the profile's", trigger.Fact("clone3"), want)}
		}
		return kit.Verdict{Result: report.NotReproduced, Reason: fmt.Sprintf("the container with errnoRet rules (%s) started, clone3 returning errno %q inside (the control's: %q): the runc under test honours errnoRet",
			trigger.Fact("rules"), trigger.Fact("clone3"), control.Fact("clone3"))}
	}
	m := ruleFailure.FindStringSubmatch(trigger.Said)
	if m == nil || trigger.Fact("errnoRet "+m[1]) == "" {
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger did not start, and not on one of its errnoRet rules: " + trigger.Complaint()}
	}
	syscall, why, errno := m[1], strings.TrimSuffix(strings.TrimSpace(m[2]), ": unknown"), trigger.Fact("errnoRet "+m[1])
	return kit.Verdict{Result: report.Reproduced, Kind: "seccomp-errnoret-ignored",
		Reason: fmt.Sprintf("runc could not load the container's seccomp filter: the %s rule's errnoRet %s was dropped, leaving a rule equal to the default action", syscall, errno),
		Reasons: []string{
			"the control container, the same profile without the errnoRet rules, started and ran",
			fmt.Sprintf("runc failed adding the rule for %s: %q", syscall, m[0]),
			fmt.Sprintf("that rule is %s -> SCMP_ACT_ERRNO with errnoRet %s; the default action is SCMP_ACT_ERRNO (EPERM): without its errnoRet the rule is the default action, which libseccomp refuses", syscall, errno),
			"libseccomp's refusal: " + why + " (\"permission denied\" is libseccomp 2.5's EACCES, which old libseccomp-golang does not translate)",
		}}
}

// crio4491Examples is the verdict table Classify must reach (the unit tests run it).
func crio4491Examples() []kit.Example {
	control := kit.Ran("clone3", "1")
	armed := func(o kit.Observation) kit.Observation {
		o.Facts = map[string]string{"rules": "clone3 -> ERRNO 38; socket -> ERRNO 22", "errnoRet clone3": "38", "errnoRet socket": "22", "clone3": o.Fact("clone3")}
		return o
	}
	return []kit.Example{
		kit.Expect("rc91 with runc#2424 reverted, bare", control, armed(kit.Refused(`container_linux.go:370: starting container process caused: error adding seccomp filter rule for syscall clone3: permission denied: unknown`)), report.Reproduced, "the clone3 rule's errnoRet 38 was dropped"),
		kit.Expect("reverted, through podman", control, armed(kit.Refused(`Error: container create failed: error adding seccomp rule for syscall socket: requested action matches default action of filter`)), report.Reproduced, "the socket rule's errnoRet 22"),
		kit.Expect("rc91 and later", control, armed(kit.Ran("clone3", "38")), report.NotReproduced, `clone3 returning errno "38"`),
		kit.Expect("ran under another filter", control, armed(kit.Ran("clone3", "1")), report.Inconclusive, "not the profile's"),
		kit.Expect("a rule without errnoRet", control, armed(kit.Refused(`error adding seccomp filter rule for syscall read: invalid argument`)), report.Inconclusive, "not on one of its errnoRet rules"),
		kit.Expect("not a seccomp failure", control, armed(kit.Refused(`runc run failed: exec: "/init": permission denied`)), report.Inconclusive, `exec: "/init": permission denied`),
	}
}
