package runcerrnoret

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/reproscript"
	"github.com/relapse-dev/relapse/harness/runckit"
	"github.com/relapse-dev/relapse/harness/sandbox"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/textutil"
)

// podmanProfile is the seccomp profile podman applies when told nothing
// (containers/common's, shipped by Debian's golang-github-containers-common
// and used by CRI-O too).
const podmanProfile = "/usr/share/containers/seccomp.json"

// podman drives the runc under test through Debian's podman and conmon,
// with all of podman's state in the run directory: storage (vfs), run
// root, tmpdir, the runc state root (the kit's, which the run owns and
// empties on any exit) and a cgroup parent the run owns.
type podman struct {
	env    *scenario.Env
	kit    *runckit.Kit
	dir    string
	cgroup string
}

func (p *podman) args(extra ...string) []string {
	return append([]string{
		"--root", filepath.Join(p.dir, "storage"), "--runroot", filepath.Join(p.dir, "run"), "--tmpdir", filepath.Join(p.dir, "tmp"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--runtime", p.kit.Runc.Binary, "--runtime-flag", "root=" + p.kit.Runc.Root, "--conmon", "/usr/bin/conmon",
	}, extra...)
}

func runPodman(ctx context.Context, env *scenario.Env) (report.Result, string, error) {
	kit, err := runckit.New(ctx, env, runckit.Options{})
	if err != nil {
		return report.Inconclusive, "", err
	}
	p := &podman{env: env, kit: kit, dir: filepath.Join(env.Dir, "podman"), cgroup: "relapse-podman-" + env.Short()}
	if v, err := env.Node.Command("podman", "--version").Output(ctx); err == nil {
		env.Stack("podman", strings.TrimPrefix(strings.TrimSpace(string(v)), "podman version "))
	}
	if v, err := env.Node.Command("conmon", "--version").Output(ctx); err == nil {
		env.Stack("conmon", strings.TrimPrefix(strings.SplitN(strings.TrimSpace(string(v)), "\n", 2)[0], "conmon version "))
	}
	if err := sandbox.CgroupParent(ctx, env.Run, p.cgroup); err != nil {
		return report.Inconclusive, "", err
	}
	raw, err := env.Node.ReadFile(ctx, podmanProfile)
	if err != nil {
		return report.Inconclusive, "", fmt.Errorf("reading podman's default seccomp profile: %w (is golang-github-containers-common installed? ci/deps.sh podman)", err)
	}
	trigger, control, rules, redundant, err := podmanProfiles(raw)
	if err != nil {
		return report.Inconclusive, "", fmt.Errorf("%s: %w", podmanProfile, err)
	}
	paths := map[string]string{}
	for name, data := range map[string][]byte{"trigger": trigger, "control": control} {
		paths[name] = filepath.Join(p.dir, name+"-seccomp.json")
		if err := env.Node.WriteFile(ctx, paths[name], data, 0o644); err != nil {
			return report.Inconclusive, "", err
		}
		if err := env.SaveFile("podman-"+name+"-seccomp.json", "the "+name+"'s profile, derived from "+podmanProfile, data); err != nil {
			return report.Inconclusive, "", err
		}
	}
	env.Condition("seccomp profile", podmanProfile+" (containers/common, as CRI-O uses it; podman's default), default action SCMP_ACT_ERRNO")
	env.Condition("errnoRet rules", describeRules(rules)+" (the trigger has them, the control does not)")
	leftOut := ruleSyscalls(redundant)
	env.Condition("left out of both", fmt.Sprintf("%d rules whose errnoRet is EPERM (%s...): they equal the default action for any runc that ignores defaultErrnoRet, "+
		"and runc before v1.0.2 refuses them whether or not it honours errnoRet (cri-o#5117, a different bug)", len(redundant), strings.Join(leftOut[:min(3, len(leftOut))], ",")))
	env.Condition("noNewPrivileges", "false, podman's default: runc loads the filter while its init pipe is open")

	timeout := env.Params.Duration("create-timeout")
	base := p.run(ctx, 0, "control: podman's profile without its errnoRet rules", timeout, "--security-opt", "seccomp="+paths["control"])
	trig := p.run(ctx, 1, "trigger: podman's profile with its errnoRet rules", timeout, "--security-opt", "seccomp="+paths["trigger"])
	if env.Report.Reproduce, err = podmanSteps(); err != nil {
		return report.Inconclusive, "", err
	}
	return judge(env, base, trig, rules)
}

// run is one `podman run` of the fixture init; podman waits for it.
func (p *podman) run(ctx context.Context, n int, label string, timeout time.Duration, opts ...string) start {
	env := p.env
	name := fmt.Sprintf("relapse-%s-%d", env.Short(), n)
	// podman asks runc for its own maximum nofile and nproc limits, which a
	// root without CAP_SYS_RESOURCE (as on CI VMs like this one) cannot
	// grant to the container; low explicit limits work everywhere.
	argv := p.args(append(append([]string{"run", "--rm", "--network", "none", "--cgroup-parent", "/" + p.cgroup, "--ulimit", "nofile=1024:4096", "--ulimit", "nproc=1024:4096", "--name", name}, opts...),
		"--rootfs", p.kit.Rootfs, "/init", "probe=clone3")...)
	var s start
	rec := report.Attempt{N: n, Label: label, Container: name}
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := env.Node.Command("podman", argv...)
	out, err := cmd.Output(cctx) // a failure's error carries podman's stderr
	env.Step(report.CommandStep("podman run", cmd.String(), began, err))
	rec.Seconds = time.Since(began).Seconds()
	rec.InitOutput = runckit.LastJSONLine(string(out))
	if init, perr := runckit.ParseInitReport(string(out)); err == nil && perr == nil {
		s.started, s.probes = true, init.Probes
		rec.Outcome = fmt.Sprintf("started and ran; clone3 returned errno %d", init.Probes["clone3"])
	} else {
		s.output = strings.TrimSpace(string(out))
		if err != nil {
			s.output += "\n" + err.Error()
		}
		s.failure = "podman run failed: " + textutil.LastLines(s.output, 1)
		rec.Outcome = s.failure
	}
	env.Attempt(rec)
	// --rm removes the container; a podman killed by the deadline may not have.
	_ = env.Node.Command("podman", p.args("rm", "--force", "--ignore", name)...).Run(context.WithoutCancel(ctx))
	return s
}

// podmanProfiles derives the two bundles' profiles from a containers/common
// profile. Rules whose errnoRet is EPERM equal the default action (EPERM)
// for any runc that does not know defaultErrnoRet, with or without this
// bug, and runc before v1.0.2 refuses them (cri-o#5117, a different bug):
// both profiles leave them out. The trigger keeps the errnoRet rules with
// another errno (socket -> EINVAL); the control has none.
func podmanProfiles(raw []byte) (trigger, control []byte, rules, redundant []specs.LinuxSyscall, err error) {
	var profile map[string]any
	if err := json.Unmarshal(raw, &profile); err != nil {
		return nil, nil, nil, nil, err
	}
	calls, _ := profile["syscalls"].([]any)
	var plain, withErrno []any
	for _, c := range calls {
		m, _ := c.(map[string]any)
		e, has := m["errnoRet"].(float64)
		if !has {
			plain = append(plain, c)
			continue
		}
		errno := uint(e)
		var names []string
		for _, n := range m["names"].([]any) {
			names = append(names, fmt.Sprint(n))
		}
		rule := specs.LinuxSyscall{Names: names, Action: specs.LinuxSeccompAction(fmt.Sprint(m["action"])), ErrnoRet: &errno}
		if errno == eperm {
			redundant = append(redundant, rule)
			continue
		}
		rules = append(rules, rule)
		withErrno = append(withErrno, c)
	}
	if len(rules) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("no rule carries an errnoRet other than EPERM: nothing to trigger")
	}
	encode := func(calls []any) ([]byte, error) {
		p := map[string]any{}
		for k, v := range profile {
			p[k] = v
		}
		p["syscalls"] = calls
		return json.MarshalIndent(p, "", "  ")
	}
	if trigger, err = encode(append(append([]any{}, plain...), withErrno...)); err != nil {
		return nil, nil, nil, nil, err
	}
	control, err = encode(plain)
	return trigger, control, rules, redundant, err
}

//go:embed podman.sh.tmpl
var podmanScriptFS embed.FS

// podmanScript is the podman variant's reproducer (podman.sh.tmpl).
var podmanScript = reproscript.MustParse(podmanScriptFS, "podman.sh.tmpl")

// podmanScriptData is what podman.sh.tmpl is rendered from: podman's
// storage, run root and temporary directory are what it makes, its
// containers' cgroups go under c4491p-PID.
type podmanScriptData struct {
	reproscript.Base
	Profile string
}

// podmanSteps tells a maintainer how to run the same two containers.
func podmanSteps() (string, error) {
	return podmanScript.Render(podmanScriptData{Base: reproscript.Base{Cleanup: reproscript.Cleanup{
		Made: []string{"storage", "run", "tmp"}, Cgroup: "c4491p-$$"}}, Profile: podmanProfile})
}
