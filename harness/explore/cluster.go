package explore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/mod/semver"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/relapse-dev/relapse/harness/chaos"
	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/clusterkit"
	"github.com/relapse-dev/relapse/harness/detect/nodeready"
	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/fixture"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
)

// With --kubernetes the explorer drives a one-node cluster (clusterkit's
// bare cluster from the run's Kubernetes, containerd and runc builds)
// through its API server: pods instead of tasks, execs and stats through
// the CRI of the cluster's containerd, the same fault kinds aimed at that
// containerd's shims. Three invariants join the daemon's: the node stays
// Ready, pods start and go within their bounds, and nothing of the pods'
// network (CNI netns, host-local IP reservations) or runtime (shim, runc
// init) is left once every pod is deleted.
const (
	InvPodStart     = "every pod is Running and Ready (or reports why not) within its bound"
	InvPodDelete    = "every deleted pod is gone within its bound"
	InvNodeReady    = "the node stays Ready: no NotReady window longer than the pod-start bound"
	InvNetLeftovers = "nothing is left once every pod is deleted (CNI netns, host-local IP, shim, runc init)"
)

// The cluster's operations whose latencies set their bounds.
const (
	opPodStart  = "pod create->Ready"
	opPodDelete = "pod delete->gone"
	opCRIExec   = "CRI exec"
	opCRIVer    = "CRI version"
)

// maxPods bounds the pods alive at once: a kubelet takes 110 by default,
// and this machine's two shared cores far fewer in good time.
const maxPods = 60

// podLabel marks the explorer's pods, so a trial finds (and clears) what
// an earlier one left.
const podLabel = "relapse-chaos"

// clusterLimits: shorter schedules and fewer pods a churn than tasks, a
// pod costing a sandbox, a CNI ADD and an API round trip. Faults aimed at
// the daemon are not drawn: the cluster's containerd is not restarted
// after a kill, and a dead runtime makes kubelet report NotReady rightly.
func clusterLimits() Limits {
	l := DefaultLimits
	l.MaxSteps = min(l.MaxSteps, 6)
	l.MaxTasks = 20
	l.Has = []string{chaos.NeedShims}
	return l
}

// clusterParam chooses who makes the cluster: bare only, the faults
// aiming at its containerd and shims as processes of the local node
// (kind's would run inside a node container).
var clusterParam = scenario.ChoiceParam(clusterkit.ProviderParam.Name, "bare",
	"who makes the cluster with --kubernetes: bare (relapse runs etcd, the control plane, kubelet and containerd itself on the local node)", "bare")

// clusterSupport says which Kubernetes the explorer drives.
var clusterSupport = scenario.Support{Component: versions.Kubernetes.Name,
	Why: "with --kubernetes: a bare one-node cluster on the local node, the Kubernetes releases clusterkit runs with containerd 1.6 or later " +
		"(the explorer's execs and stats go through CRI v1); measured with 1.37.2 and containerd 2.4.2, 1.19.16 and containerd 1.6.20 (2026-12-06)"}

// CheckPlan refuses, before anything is built, a cluster the explorer
// cannot drive: off the local node, or with a containerd that serves no
// CRI v1; then whatever clusterkit refuses (kubelet and containerd that
// share no CRI version).
func (Scenario) CheckPlan(provider string, params scenario.Values, chosen map[string]string) error {
	k8s, ok := chosen[versions.Kubernetes.Name]
	if !ok {
		return nil
	}
	if provider != "local" {
		return fmt.Errorf("--kubernetes %s: the explorer drives a cluster on the local node only, not PROVIDER=%s", k8s, provider)
	}
	if c := "v" + strings.TrimPrefix(chosen[versions.Containerd.Name], "v"); semver.IsValid(c) && semver.Compare(c, "v1.6.0") < 0 {
		return fmt.Errorf("--kubernetes %s with --containerd %s: the explorer's execs and stats go through CRI v1, which containerd serves from 1.6; use --containerd 1.6.0 or later", k8s, chosen[versions.Containerd.Name])
	}
	return clusterkit.ScenarioBase{}.CheckPlan(provider, params, chosen)
}

// explorer is what trials run against: containerd alone (stack) or a
// cluster (clusterStack).
type explorer interface {
	run(ctx context.Context, sched Schedule) (*Violation, error)
	limits() Limits
	invariants() []string
}

func (s *stack) limits() Limits { return DefaultLimits }
func (s *stack) invariants() []string {
	return []string{InvCreate, InvExec, InvDelete, InvDaemon, InvLeftovers}
}

// clusterStack is the run's one cluster, which every trial and replay
// shares (a cluster is not remade per trial: each trial starts by
// clearing the pods an earlier one left).
type clusterStack struct {
	env *scenario.Env
	c   *cluster.Cluster
	// engineDir is the cluster containerd's directory: its shims'
	// command lines name it (their -address), and its runc inits are
	// their children.
	engineDir string
	cri       cri.RuntimeServiceClient
	timings
	trials atomic.Int64
}

// newClusterStack brings the run's cluster up (clusterkit, registering
// its teardown with the run) and connects to its containerd's CRI.
func newClusterStack(ctx context.Context, env *scenario.Env, b Bound) (*clusterStack, error) {
	c, _, err := clusterkit.Start(ctx, env, false)
	if err != nil {
		return nil, err
	}
	conn, err := c.CRIConn()
	if err != nil {
		return nil, fmt.Errorf("CRI client of the cluster's containerd: %w", err)
	}
	env.DeferCleanup("close the explorer's CRI client", func(context.Context) error { return conn.Close() })
	if err := writeProfiles(ctx, c); err != nil {
		return nil, err
	}
	return &clusterStack{env: env, c: c, engineDir: filepath.Dir(c.ContainerdSocket), cri: cri.NewRuntimeServiceClient(conn),
		timings: newTimings(b, opPodStart, opPodDelete, opCRIExec, opCRIVer)}, nil
}

func (s *clusterStack) limits() Limits { return clusterLimits() }
func (s *clusterStack) invariants() []string {
	return []string{InvPodStart, InvCRIExec, InvPodDelete, InvCRIDaemon, InvNodeReady, InvNetLeftovers}
}

// The CRI-side invariants say the same as the containerd explorer's.
const (
	InvCRIExec   = "every CRI exec returns within its bound"
	InvCRIDaemon = "the cluster's containerd answers a CRI Version within its bound"
)

// processes lists the live processes of the cluster's containerd tree
// (containerd, its shims and what they run; kubelet's command line may
// name the socket too, and is left out).
func (s *clusterStack) processes(ctx context.Context) ([]evidence.Process, error) {
	procs, err := s.env.Node.Processes(ctx)
	if err != nil {
		return nil, err
	}
	var out []evidence.Process
	for _, p := range evidence.ProcessesUnder(procs, s.engineDir) {
		if p.Comm != "kubelet" {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *clusterStack) daemonPID(ctx context.Context) (int, error) {
	procs, err := s.processes(ctx)
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		if p.Comm == "containerd" {
			return p.PID, nil
		}
	}
	return 0, fmt.Errorf("the cluster's containerd (%s) is not running", s.engineDir)
}

// target is the cluster's containerd and its shims, for the faults.
func (s *clusterStack) target(dir string) chaos.Target {
	return chaos.Target{Node: s.env.Node, Runc: s.c.Runc, Dir: dir, Daemon: s.daemonPID,
		Shims: func(ctx context.Context) ([]int, error) {
			procs, err := s.processes(ctx)
			var pids []int
			for _, p := range procs {
				if strings.HasPrefix(p.Comm, "containerd-shim") {
					pids = append(pids, p.PID)
				}
			}
			return pids, err
		}}
}

// kubeletTail is the end of kubelet's log, for a violation's evidence.
func (s *clusterStack) kubeletTail(ctx context.Context, lines int) string {
	if s.c.KubeletLog == "" {
		return "(the cluster provider keeps kubelet's log elsewhere)"
	}
	out, err := s.env.Node.Command("tail", "-n", fmt.Sprint(lines), s.c.KubeletLog).Output(ctx)
	if err != nil {
		return "reading kubelet's log: " + err.Error()
	}
	return string(out)
}

// notReadyTooLong is the first NotReady window of ws that lasted (or,
// open, has lasted by now) longer than bound; ok is false when none did.
func notReadyTooLong(ws []nodeready.Window, bound time.Duration, now time.Time) (w nodeready.Window, ok bool) {
	for _, w := range ws {
		if w.Duration(now) > bound {
			return w, true
		}
	}
	return nodeready.Window{}, false
}

// localhostProfile is the file name, in kubelet's seccomp directory, of
// the profile a churn step names.
func localhostProfile(profile string) string { return "relapse-chaos-" + profile + ".json" }

// writeProfiles gives kubelet the seccomp profiles the containerd
// explorer's churn uses (fixture.ProfileNames: Docker's default and a
// large one), as Localhost profiles: the same filters, so a bug that
// needs a large one (containerd#5261's pipe) can be met on a cluster too.
func writeProfiles(ctx context.Context, c *cluster.Cluster) error {
	for _, name := range fixture.ProfileNames {
		p, err := fixture.LoadProfile(name, fixture.Config("rootfs", fixture.ConfigOptions{NoNewPrivileges: true}))
		if err != nil {
			return err
		}
		data, err := json.MarshalIndent(p.Seccomp, "", "  ")
		if err != nil {
			return fmt.Errorf("seccomp profile %s: %w", name, err)
		}
		if err := c.Node.WriteFile(ctx, filepath.Join(c.SeccompDir, localhostProfile(name)), data, 0o644); err != nil {
			return fmt.Errorf("giving kubelet the seccomp profile %s: %w", name, err)
		}
	}
	return nil
}
