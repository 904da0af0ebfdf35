package containerdbugs

import (
	"context"
	"embed"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/containerd/oci"

	"github.com/relapse-dev/relapse/harness/ctrdkit"
	"github.com/relapse-dev/relapse/harness/kit"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// k3s#4572: on cgroup v2, containerd's shim (1.6.2 and before) publishes
// /tasks/oom only when the container cgroup's memory.events "oom" rises,
// which counts the times that cgroup's own limit was hit. Kubernetes gives
// the pod's cgroup the same memory.max as its only container; the pod's
// holds the pause container too, so the pod's limit is the one reached: the
// kernel counts "oom" there and "oom_kill" in the victim's cgroup and its
// ancestors. The container is killed, no /tasks/oom is published, and CRI
// says Error instead of OOMKilled. containerd#6323 (1.6.3: #6734) watches
// "oom_kill" instead. The task API shows it (the event never published),
// so no CRI or kubelet is needed: both sides run one container that
// outgrows a memory limit under a containerd of the version under test;
// the control's limit is the container's own, the trigger's its parent's
// (the pod's). A qemu node: the kernel's cgroup v2 hierarchy.
func init() { kit.Register(k3s4572) }

//go:embed k3s-4572
var k3s4572Fixtures embed.FS

var k3s4572 = &kit.Bug{
	ID:    "k3s#4572",
	Fix:   []string{"containerd#6734", "containerd#6323", "containerd#6735"},
	Title: "containerd 1.6.2 on cgroup v2: a container OOM-killed under its pod's memory limit gets no /tasks/oom event (CRI says Error, not OOMKilled)",
	Summary: "On cgroup v2 the shim's OOM watcher (pkg/oom/v2) published /tasks/oom when the container cgroup's memory.events " +
		"\"oom\" rose. \"oom\" counts the times a cgroup's own limit was reached; \"oom_kill\" counts the processes killed in it " +
		"and below. A pod's cgroup gets the same memory.max as its only container and also holds the pause container, so the " +
		"pod's limit is reached: \"oom\" rises in the pod's cgroup, \"oom_kill\" in the container's, and no event is published; " +
		"CRI then reports the container's reason as Error, not OOMKilled. containerd#6323 (1.6.3: #6734; 1.5: #6735) watches " +
		"\"oom_kill\" instead.",
	Links: []report.Link{
		{Title: "k3s-io/k3s#4572: Built-in K3s Containerd doesn't report OOM events for cgroups v2 (the report)", URL: "https://github.com/k3s-io/k3s/issues/4572"},
		{Title: "containerd/containerd#6323: cgroup2: monitor OOMKill instead of OOM to prevent missing container events (the fix)", URL: "https://github.com/containerd/containerd/pull/6323"},
		{Title: "containerd/containerd#6734: the fix on release/1.6 (v1.6.3)", URL: "https://github.com/containerd/containerd/pull/6734"},
		{Title: "containerd/containerd#6735: the fix on release/1.5", URL: "https://github.com/containerd/containerd/pull/6735"},
	},
	Component: "containerd",
	// cgroup v2 OOM events came with containerd#4273 (1.4.0); relapse
	// builds containerd from 1.5.0 on.
	LastAffected: "1.6.2",
	FirstFixed:   "1.6.3",
	// The runc containerd 1.6.3 pins (script/setup/runc-version), on both
	// sides: the shim's watcher is what differs.
	Pins:     map[string]string{"runc": "1.1.1"},
	Revert:   "revert-6734-v1.6.3.patch",
	Fixtures: k3s4572Fixtures,
	Nodes:    []string{"qemu"},
	Slow:     true,
	Sampling: report.Sampling{Deterministic: true,
		Why:   "the kernel counts an OOM in the cgroup whose limit was reached every time, and the shim's rule reads the same counter every time",
		Fresh: "a fresh containerd per run on the VM node, one container per side OOM-killed under a memory limit (~5 s)"},
	Params: []scenario.Param{
		scenario.IntParam("limit-mib", 48, 16, 1024, "the memory limit (MiB): the container's own (control) or its pod's (trigger)"),
		scenario.IntParam("alloc-mib", 160, 32, 4096, "how much the container's init allocates and touches (MiB): more than limit-mib"),
		scenario.DurationParam("exit-timeout", "2m", false, "how long the container may take to outgrow its limit and be killed"),
		scenario.DurationParam("event-wait", "10s", false, "how long after the task's exit a /tasks/oom may still arrive"),
	},
	Control:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return oomUnderLimit(ctx, r, false) },
	Trigger:  func(ctx context.Context, r *kit.Run) (kit.Observation, error) { return oomUnderLimit(ctx, r, true) },
	Classify: classifyMissingOOMEvent,
	Examples: k3s4572Examples(),
}

// oomUnderLimit runs one container whose init outgrows limit-mib under
// the run's containerd and says what the kernel counted and what the
// daemon published. Its cgroup is a child of a "pod" cgroup inside the
// run's sandbox cgroup (the run removes it with everything below); the
// limit is the container's (control) or the pod's (armed). Facts: "exit"
// (the task's exit status), "oom" and "oom_kill" (the container cgroup's
// memory.events at the exit), "pod oom" and "pod oom_kill", "oom events"
// (the /tasks/oom events about it), "events" (every task event about it).
func oomUnderLimit(ctx context.Context, r *kit.Run, armed bool) (kit.Observation, error) {
	k, env, p := ctrdkit.Of(r), r.Env, r.Env.Params.Int
	name := map[bool]string{false: "control", true: "trigger"}[armed]
	if fs, err := env.Node.Command("stat", "-fc", "%T", "/sys/fs/cgroup").Output(ctx); err != nil || strings.TrimSpace(string(fs)) != "cgroup2fs" {
		return kit.Observation{Failure: fmt.Sprintf("node %s does not run the cgroup v2 hierarchy alone (/sys/fs/cgroup is %q): the bug is in the cgroup v2 OOM watcher", env.Node.Name(), strings.TrimSpace(string(fs)))}, nil
	}
	limit := strconv.Itoa(p("limit-mib") << 20)
	pod := k.Cgroup + "/pod-" + name
	podDir := filepath.Join("/sys/fs/cgroup", pod)
	podLimit := "max"
	if armed {
		podLimit = limit
	}
	// The sandbox cgroup hands the memory controller down so the pod's
	// limit exists; no swap below the pod: the limit is reached, not
	// dodged.
	setup := fmt.Sprintf("mkdir -p %[1]s && echo +memory > %[3]s/cgroup.subtree_control && echo %[2]s > %[1]s/memory.max && echo 0 > %[1]s/memory.swap.max",
		podDir, podLimit, filepath.Dir(podDir))
	if err := env.Node.Command("sh", "-c", setup).Run(ctx); err != nil {
		return kit.Observation{}, fmt.Errorf("making the pod cgroup %s: %w", podDir, err)
	}
	env.Condition("memory limit ("+name+")", fmt.Sprintf("%d MiB on %s; the container's init touches %d MiB", p("limit-mib"),
		map[bool]string{false: "the container's own cgroup", true: "the pod cgroup " + podDir + " (the container's has none)"}[armed], p("alloc-mib")))

	events := k.WatchTasks(ctx)
	defer events.Stop()
	id := "relapse-" + name
	opts := []oci.SpecOpts{oci.WithProcessArgs("/init", "alloc="+strconv.Itoa(p("alloc-mib"))), oci.WithCgroup("/" + pod + "/" + name)}
	if !armed {
		opts = append(opts, oci.WithMemoryLimit(uint64(p("limit-mib"))<<20))
	}
	ctr, err := k.NewContainer(ctx, id, k.Rootfs, opts...)
	if err != nil {
		return kit.Observation{}, fmt.Errorf("creating container %s: %w", id, err)
	}
	spec, err := ctr.Spec(ctx)
	if err != nil {
		return kit.Observation{}, fmt.Errorf("reading container %s's spec: %w", id, err)
	}
	if err := r.Runc.SaveBundle(spec, name, name+": the OCI config containerd made for the container (its root filesystem beside it)"); err != nil {
		return kit.Observation{}, err
	}
	flags := []string{"--cgroup", "/" + pod + "/" + name}
	if !armed {
		flags = append(flags, "--memory-limit", limit)
	}
	r.Script("# "+name+": the container outgrows "+map[bool]string{false: "its own", true: "its pod's"}[armed]+" memory limit",
		setup,
		k.Ctr("events")+" > events-"+name+".log & EVENTS=$!",
		k.CtrRun(flags, id, "/init", "alloc="+strconv.Itoa(p("alloc-mib")))+"; echo exit $?",
		"sleep 2; kill $EVENTS; grep /tasks/oom events-"+name+".log  # "+map[bool]string{false: "one on every release", true: "affected: none"}[armed],
		k.Ctr("task", "rm", id)+"; "+k.Ctr("container", "rm", id)+"; rmdir "+podDir+"; rmdir "+filepath.Dir(podDir)+" 2>/dev/null || true")
	logPath := filepath.Join(env.Dir, name+"-init.log")
	task, err := k.Start(ctx, ctr, logPath)
	if err != nil {
		return kit.Observation{Failure: err.Error()}, nil
	}
	defer func() { _, _ = task.Delete(context.WithoutCancel(ctx)) }()
	obs := kit.Observation{Facts: map[string]string{}}
	code, err := ctrdkit.ExitStatus(ctx, task, env.Params.Duration("exit-timeout"))
	if err != nil {
		return kit.Observation{Failure: err.Error()}, nil
	}
	obs.Facts["exit"] = strconv.Itoa(int(code))
	// The container's cgroup lives until the task is deleted: read its
	// counters now. memory.events is hierarchical: a parent's counts its
	// children's.
	for prefix, dir := range map[string]string{"": filepath.Join(podDir, name), "pod ": podDir} {
		counts, err := memoryEvents(ctx, r, dir)
		if err != nil {
			return kit.Observation{}, err
		}
		for _, key := range []string{"oom", "oom_kill"} {
			obs.Facts[prefix+key] = counts[key]
		}
	}
	init, _ := env.Node.ReadFile(ctx, logPath)
	obs.Ran = strings.Contains(string(init), `"ok":true`)
	if !obs.Ran {
		obs.Failure = "the container's init did not report before its exit (status " + obs.Facts["exit"] + "): " + strings.TrimSpace(string(init))
	}
	// The control's event is the yardstick: a daemon that publishes OOMs
	// does so within event-wait of the exit.
	ooms, err := events.Await(ctx, id, ctrdkit.OOMTopic, env.Params.Duration("event-wait"))
	if err != nil {
		return kit.Observation{}, fmt.Errorf("the event subscription ended: %w", err)
	}
	all, _ := events.Of(id, "")
	obs.Facts["oom events"] = strconv.Itoa(len(ooms))
	obs.Facts["events"] = ctrdkit.Topics(all)
	return obs, nil
}

// memoryEvents reads a cgroup's memory.events ("oom 0", "oom_kill 1").
func memoryEvents(ctx context.Context, r *kit.Run, dir string) (map[string]string, error) {
	data, err := r.Env.Node.ReadFile(ctx, filepath.Join(dir, "memory.events"))
	if err != nil {
		return nil, fmt.Errorf("reading %s/memory.events: %w", dir, err)
	}
	counts := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			counts[k] = v
		}
	}
	r.Env.Evidence("memory.events of "+dir, strings.TrimSpace(string(data)))
	return counts, nil
}

// classifyMissingOOMEvent: both containers must have been OOM-killed
// (exit 137, oom_kill counted in the container's cgroup) and the control's
// kill published. REPRODUCED when the trigger's kill, under the pod's
// limit, published no /tasks/oom; NOT REPRODUCED when it did.
func classifyMissingOOMEvent(control, trigger kit.Observation) kit.Verdict {
	killed := func(o kit.Observation) bool { return o.Fact("exit") == "137" && count(o.Fact("oom_kill")) > 0 }
	counted := func(o kit.Observation) string {
		return fmt.Sprintf("exit %s; container cgroup oom %s, oom_kill %s; pod cgroup oom %s, oom_kill %s",
			o.Fact("exit"), o.Fact("oom"), o.Fact("oom_kill"), o.Fact("pod oom"), o.Fact("pod oom_kill"))
	}
	switch {
	case !killed(control):
		return kit.Verdict{Result: report.Inconclusive, Reason: "the control's container was not OOM-killed under its own limit (" + counted(control) + "): raise alloc-mib"}
	case count(control.Fact("oom events")) == 0:
		return kit.Verdict{Result: report.Inconclusive, Reason: "containerd published no /tasks/oom even for the control, killed under its own limit (" + counted(control) +
			"): this daemon or node reports no OOMs at all, so the trigger's missing event would prove nothing"}
	case !trigger.Ran:
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's container did not run: " + trigger.Failure}
	case !killed(trigger):
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's container was not OOM-killed under the pod's limit (" + counted(trigger) + ")"}
	case count(trigger.Fact("oom")) > 0:
		return kit.Verdict{Result: report.Inconclusive, Reason: "the trigger's OOM was counted against the container's own cgroup (" + counted(trigger) + "): the pod's limit was not the one reached"}
	case count(trigger.Fact("oom events")) > 0:
		return kit.Verdict{Result: report.NotReproduced, Reason: "containerd published /tasks/oom for the container killed under its pod's limit (" + counted(trigger) + ")"}
	}
	return kit.Verdict{Result: report.Reproduced, Kind: "oom-kill-without-task-oom-event",
		Reason: "the container was OOM-killed under its pod's limit (" + counted(trigger) + ") and containerd published no /tasks/oom",
		Reasons: []string{"control, the container's own limit: " + counted(control) + "; /tasks/oom published " + control.Fact("oom events") + " time(s)",
			"trigger, the pod's limit: " + counted(trigger) + "; no /tasks/oom: the shim counts \"oom\" of the container's cgroup, which only its own limit raises",
			"events about the trigger's container: " + strings.ReplaceAll(trigger.Fact("events"), "\n", "; ")}}
}

// count is a counter's value, 0 when absent or unreadable.
func count(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// k3s4572Examples is the verdict table Classify must reach (the unit tests run it).
func k3s4572Examples() []kit.Example {
	control := kit.Ran("exit", "137", "oom", "1", "oom_kill", "1", "pod oom", "1", "pod oom_kill", "1", "oom events", "1")
	underPod := func(events string) kit.Observation {
		return kit.Ran("exit", "137", "oom", "0", "oom_kill", "1", "pod oom", "1", "pod oom_kill", "1", "oom events", events,
			"events", "13:00:01.000 /tasks/create container relapse-trigger\n13:00:02.000 /tasks/exit container relapse-trigger")
	}
	return []kit.Example{
		kit.Expect("killed under the pod's limit, no event", control, underPod("0"), report.Reproduced, "containerd published no /tasks/oom"),
		kit.Expect("killed under the pod's limit, event published", control, underPod("1"), report.NotReproduced, "published /tasks/oom"),
		kit.Expect("the control's kill published nothing", kit.Ran("exit", "137", "oom", "1", "oom_kill", "1", "oom events", "0"), underPod("0"),
			report.Inconclusive, "reports no OOMs at all"),
		kit.Expect("the control was not killed", kit.Ran("exit", "0", "oom", "0", "oom_kill", "0", "oom events", "0"), underPod("0"),
			report.Inconclusive, "not OOM-killed under its own limit"),
		kit.Expect("the trigger was not killed", control, kit.Ran("exit", "0", "oom", "0", "oom_kill", "0", "oom events", "0"),
			report.Inconclusive, "not OOM-killed under the pod's limit"),
		kit.Expect("the trigger hit its own limit", control, kit.Ran("exit", "137", "oom", "1", "oom_kill", "1", "oom events", "0"),
			report.Inconclusive, "the pod's limit was not the one reached"),
		kit.Expect("not cgroup v2", kit.Observation{Failure: "node x does not run the cgroup v2 hierarchy alone"}, kit.Observation{},
			report.Inconclusive, "cgroup v2"),
	}
}
