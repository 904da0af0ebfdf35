package explore

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/detect"
	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

var t0 = time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC)

// The node-Ready invariant folds kubelet's Ready condition into windows
// (nodeready.UpdateWindows, at the condition's own transition times) and
// breaks on the first window longer than the bound; an open window counts
// up to now.
func TestNotReadyWindowAccounting(t *testing.T) {
	looks := []struct {
		ready bool
		at    time.Duration
	}{{true, 0}, {false, 5 * time.Second}, {true, 12 * time.Second}, {false, 40 * time.Second}}
	var ws []nodeready.Window
	for _, l := range looks {
		ws = nodeready.UpdateWindows(ws, nodeready.ReadyState{Ready: l.ready, Status: map[bool]string{true: "True", false: "False"}[l.ready],
			Reason: "KubeletNotReady", Message: "container runtime is down", LastTransition: t0.Add(l.at)}, t0.Add(l.at+time.Second))
	}
	if len(ws) != 2 {
		t.Fatalf("%d windows, want 2 (one closed, one open): %+v", len(ws), ws)
	}
	for _, c := range []struct {
		name  string
		bound time.Duration
		now   time.Duration
		want  time.Time // zero: no violation
	}{
		{"the closed 7 s window is within a 20 s bound, the open one is 5 s old", 20 * time.Second, 45 * time.Second, time.Time{}},
		{"the closed window is longer than a 6 s bound", 6 * time.Second, 45 * time.Second, t0.Add(5 * time.Second)},
		{"the open window outgrew the bound by now", 20 * time.Second, 61 * time.Second, t0.Add(40 * time.Second)},
		{"exactly the bound is not past it", 7 * time.Second, 47 * time.Second, time.Time{}},
	} {
		w, ok := notReadyTooLong(ws, c.bound, t0.Add(c.now))
		if ok != !c.want.IsZero() || ok && !w.Start.Equal(c.want) {
			t.Errorf("%s: got %v %+v, want window from %v", c.name, ok, w, c.want)
		}
	}
	if _, ok := notReadyTooLong(nil, time.Nanosecond, t0); ok {
		t.Error("no window broke the invariant")
	}
}

// A mountinfo line of an nsfs mount on a cni-* file is a pod sandbox's
// netns still pinned; relapse's own cluster namespace, a mount namespace's
// nsfs and cni-* names of other file systems are not.
func TestNetnsMountsOfMountinfo(t *testing.T) {
	info := strings.Join([]string{
		"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
		"610 25 0:4 net:[4026532555] /run/netns/cni-0b6f7d2e-5c1a-4c55-9b5e-6f0e1a2b3c4d rw shared:300 - nsfs nsfs rw",
		"611 25 0:4 net:[4026532444] /run/netns/relapse-k8s-ab12 rw shared:301 - nsfs nsfs rw",
		"612 25 0:4 mnt:[4026532333] /run/relapse/cni-mnt rw - nsfs nsfs rw",
		"613 25 0:52 / /var/lib/cni/cni-cache rw - tmpfs relapse rw",
		"614 25 0:4 net:[4026532556] /var/run/netns/cni-77 rw - nsfs nsfs rw",
		"garbage",
		"",
	}, "\n")
	got := netnsMounts(info)
	want := []string{"/run/netns/cni-0b6f7d2e-5c1a-4c55-9b5e-6f0e1a2b3c4d", "/var/run/netns/cni-77"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// Only cni-* entries that appeared during the trial are its leftovers:
// another run's (or the host's) namespaces were there before.
func TestNewNetnsEntries(t *testing.T) {
	before := cniNames([]string{"relapse-k8s-ab12", "cni-old", "host-ns"})
	after := cniNames([]string{"cni-new-2", "relapse-k8s-ab12", "cni-old", "cni-new-1"})
	if got, want := newEntries(before, after), []string{"cni-new-1", "cni-new-2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := newEntries(after, after); len(got) != 0 {
		t.Fatalf("nothing new, got %q", got)
	}
}

// Once every pod is deleted, every host-local reservation is a leaked IP
// (read from a real host-local directory layout: bookkeeping files aside).
func TestIPLeftoversFromHostLocalDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "relapse-net"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "relapse-net", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("last_reserved_ip.0", "10.88.0.7")
	write("lock", "")
	if allocs, err := detect.ReadAllocations(dir); err != nil || len(ipLeftovers(allocs)) != 0 {
		t.Fatalf("only bookkeeping: got %v, %v", ipLeftovers(allocs), err)
	}
	write("10.88.0.7", "4f1c2e9d\r\neth0")
	allocs, err := detect.ReadAllocations(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := ipLeftovers(allocs)
	if want := []string{"IP 10.88.0.7 reserved in network relapse-net for sandbox 4f1c2e9d (eth0)"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A cluster's schedules draw pods, not tasks, in fewer steps, and no
// fault aimed at the daemon (the cluster's containerd is not restarted):
// over many seeds every fault needs only the shims, or nothing.
func TestClusterSchedulesDrawNoDaemonFault(t *testing.T) {
	kinds := chaos.FaultKinds()
	l := clusterLimits()
	faults := 0
	for seed := range uint64(300) {
		s := Generate(TrialSeed(seed, 0), kinds, l)
		if len(s.Steps) < l.MinSteps || len(s.Steps) > l.MaxSteps+1 {
			t.Fatalf("seed %d: %d steps, want %d-%d (+1 churn): %v", seed, len(s.Steps), l.MinSteps, l.MaxSteps, s.Lines())
		}
		if err := s.Check(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, st := range s.Steps {
			switch {
			case st.Action == ActionChurn && st.Int("tasks", 0) > l.MaxTasks:
				t.Fatalf("seed %d: %s: more pods than %d", seed, st, l.MaxTasks)
			case st.IsFault():
				faults++
				f, err := chaos.ParseFault(st.Fault, st.Params)
				if err != nil {
					t.Fatal(err)
				}
				for _, need := range chaos.NeedsOf(f) {
					if need != chaos.NeedShims {
						t.Fatalf("seed %d: %s needs %q, which a cluster's schedule does not offer", seed, st, need)
					}
				}
			}
		}
	}
	if faults == 0 {
		t.Fatal("300 cluster schedules drew no fault at all")
	}
	// The containerd explorer's limits are left as they were.
	if !slices.Contains(DefaultLimits.Has, chaos.NeedDaemon) {
		t.Fatalf("DefaultLimits.Has = %v lost the daemon", DefaultLimits.Has)
	}
}

// A pod on its way up is not failing; one whose container waits for
// another reason, ended, or whose pod failed says why.
func TestPodFailing(t *testing.T) {
	pod := func(phase corev1.PodPhase, st corev1.ContainerState) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: phase,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "work", State: st}}}}
	}
	waiting := func(r string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r}}
	}
	for _, c := range []struct {
		p    *corev1.Pod
		want string
	}{
		{pod(corev1.PodPending, waiting("ContainerCreating")), ""},
		{pod(corev1.PodPending, corev1.ContainerState{}), ""},
		{&corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}, ""},
		{pod(corev1.PodPending, waiting("CreateContainerError")), "CreateContainerError"},
		{pod(corev1.PodRunning, waiting("CrashLoopBackOff")), "CrashLoopBackOff"},
		{pod(corev1.PodRunning, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 137}}), "exit 137"},
		{pod(corev1.PodFailed, corev1.ContainerState{}), "Failed"},
	} {
		err := podFailing(c.p)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.p.Status, err, c.want)
		}
	}
}

// A churn's pod carries what the step drew: the cluster's copy of the
// seccomp profile it names (a Localhost profile), no privilege escalation
// for nnp.
func TestPodForCarriesTheStep(t *testing.T) {
	p := podFor("chaos-1-1", "large", true)
	sc := p.Spec.Containers[0].SecurityContext
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost ||
		*sc.SeccompProfile.LocalhostProfile != "relapse-chaos-large.json" || *sc.AllowPrivilegeEscalation {
		t.Fatalf("docker-default, nnp: %+v", sc)
	}
	if p.Labels[podLabel] == "" || p.Spec.Containers[0].ImagePullPolicy != corev1.PullNever {
		t.Fatalf("the explorer's pods are labelled and use the imported image: %+v", p)
	}
	if sc := podFor("x", "none", false).Spec.Containers[0].SecurityContext; sc.SeccompProfile != nil || !*sc.AllowPrivilegeEscalation {
		t.Fatalf("none, no nnp: %+v", sc)
	}
}

// --kubernetes is no longer refused; it adds Kubernetes to the versions
// built and to the replay line, and only then.
func TestKubernetesOption(t *testing.T) {
	o := Options{Containerd: "2.4.2", Runc: "1.5.3", Kubernetes: "1.37.2", Budget: time.Minute, Replays: 2, Need: 1, Trial: -1, Seed: 1}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
	if got := o.versions()[versions.Kubernetes.Name]; got != "1.37.2" {
		t.Fatalf("versions %v", o.versions())
	}
	if got := o.replay(3); got != "relapse chaos --containerd 2.4.2 --runc 1.5.3 --kubernetes 1.37.2 --seed 1 --trial 3" {
		t.Fatalf("replay %q", got)
	}
	o.Kubernetes = ""
	if _, ok := o.versions()[versions.Kubernetes.Name]; ok || strings.Contains(o.replay(3), "kubernetes") {
		t.Fatalf("without --kubernetes: %v, %q", o.versions(), o.replay(3))
	}
	if !scenario.IsOptional(Scenario{}, versions.Kubernetes.Name) {
		t.Fatal("Kubernetes must be built only when asked")
	}
}

// The plan check refuses what the explorer cannot drive, before anything
// runs, and passes a stack it can.
func TestCheckPlanOfACluster(t *testing.T) {
	params, err := scenario.ResolveParams(Scenario{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		provider string
		chosen   map[string]string
		want     string
	}{
		{"local", map[string]string{"containerd": "v2.4.2", "runc": "v1.5.3"}, ""},
		{"local", map[string]string{"containerd": "v2.4.2", "runc": "v1.5.3", "kubernetes": "v1.37.2"}, ""},
		{"qemu", map[string]string{"containerd": "v2.4.2", "runc": "v1.5.3", "kubernetes": "v1.37.2"}, "local node only"},
		{"local", map[string]string{"containerd": "v1.5.18", "runc": "v1.5.3", "kubernetes": "v1.19.16"}, "CRI v1"},
		{"local", map[string]string{"containerd": "v2.4.2", "runc": "v1.5.3", "kubernetes": "v1.19.16"}, "v1alpha2"},
	} {
		err := Scenario{}.CheckPlan(c.provider, params, c.chosen)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: got %v, want %q", c.provider, c.chosen, err, c.want)
		}
	}
}

// A cluster finding's draft names the Kubernetes it ran on and where a
// kubelet bug would go instead.
func TestDraftOfAClusterFinding(t *testing.T) {
	f := &Finding{Trial: 2, Violation: Violation{Invariant: InvNodeReady, Detail: "NotReady for 3m"},
		Replay: "relapse chaos --containerd 2.4.2 --runc 1.5.3 --kubernetes 1.37.2 --seed 1 --trial 2"}
	data, err := RenderDraft(f, Options{Containerd: "2.4.2", Runc: "1.5.3", Kubernetes: "1.37.2", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a one-node cluster of Kubernetes 1.37.2", "package kubeletbugs", "Invariant: " + InvNodeReady, "--kubernetes 1.37.2"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("draft lacks %q:\n%s", want, data)
		}
	}
	if data, _ := RenderDraft(f, Options{Containerd: "2.4.2", Runc: "1.5.3"}); strings.Contains(string(data), "Kubernetes") {
		t.Errorf("a containerd finding's draft names no Kubernetes:\n%s", data)
	}
}
