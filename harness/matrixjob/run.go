package matrixjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/relapse-dev/relapse/harness/cluster"
	"github.com/relapse-dev/relapse/harness/clusterkit"
	"github.com/relapse-dev/relapse/harness/experiment"
	"github.com/relapse-dev/relapse/harness/matrix"
	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Options is one Indexed Job run on a cluster relapse makes here.
type Options struct {
	// File, Speed and Canaries select the cells (as relapse matrix does).
	File, Speed string
	Canaries    bool
	// Sources is NIGHTLY_SOURCES, passed to every cell.
	Sources     string
	Cells       []matrix.Cell
	Parallelism int
	// Kubernetes is the cluster's version (a pinned one; default 1.30.14).
	Kubernetes string
	// Results receives cell-<index>/<cell id>/ in Prow's layout.
	Results string
	// ReportsDir receives the report of the run that held the cluster.
	ReportsDir string
	// LockWait bounds how long one cell waits for another's host lock.
	LockWait time.Duration
	// Within bounds the whole Job (default: 20 minutes a cell).
	Within time.Duration
	Log    io.Writer
}

// Index is what one completion index did.
type Index struct {
	Index    int
	Cell     string
	Pod      string
	Phase    corev1.PodPhase
	Started  time.Time
	Finished time.Time
	// Log is the pod's log, kept as the cell's build-log.txt.
	Log string
}

// Outcome is the Job's run.
type Outcome struct {
	Indexes []Index
	// MostRunning is the most pods running at once, as polled.
	MostRunning int
	// Took is from the Job's creation to its end.
	Took time.Duration
	// Hold is the report of the run that made and removed the cluster.
	Hold *report.Report
}

// Succeeded counts the indexes whose pod succeeded.
func (o *Outcome) Succeeded() int {
	n := 0
	for _, i := range o.Indexes {
		if i.Phase == corev1.PodSucceeded {
			n++
		}
	}
	return n
}

// jobCluster is the environment the Job runs in: a cluster scenario's
// builds and nodes, no bug.
type jobCluster struct{ clusterkit.ScenarioBase }

func (jobCluster) Name() string { return "matrix-job" }
func (jobCluster) Bug() report.Bug {
	return report.Bug{Title: "none: a bare cluster that ran the matrix's Indexed Job"}
}
func (jobCluster) Params() []scenario.Param {
	return []scenario.Param{clusterkit.ProviderParam, cluster.CNIParam, cluster.RuntimeParam}
}

// DefaultVersions: the pods that run the cells need a runc without the
// bugs the cells look for.
func (jobCluster) DefaultVersions() map[string]string { return map[string]string{"runc": "1.1.14"} }
func (jobCluster) Sampling() report.Sampling          { return report.Sampling{Deterministic: true} }
func (jobCluster) Run(context.Context, *scenario.Env) (report.Result, string, error) {
	return "", "", errors.New("the matrix job's cluster has no trigger: it runs under Plan.Hold")
}

// Run makes a bare cluster here, runs the cells as an Indexed Job on it and
// removes the cluster. The cells run in a state directory of their own
// (STATE/matrix-job) beside the run that holds the cluster.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if len(o.Cells) == 0 {
		return nil, errors.New("no cells selected")
	}
	if o.Kubernetes == "" {
		o.Kubernetes = "1.30.14"
	}
	if o.Within == 0 {
		o.Within = time.Duration(len(o.Cells)) * 20 * time.Minute
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	repo, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	results, err := filepath.Abs(o.Results)
	if err != nil {
		return nil, err
	}
	plan, err := experiment.Prepare(ctx, experiment.Options{Using: jobCluster{}, Versions: map[string]string{"kubernetes": o.Kubernetes},
		Params: map[string]string{clusterkit.ProviderParam.Name: "bare"}, ReportsDir: o.ReportsDir, Log: o.Log,
		Invocation: "relapse matrix --job (the cluster that ran it)"})
	if err != nil {
		return nil, err
	}
	cellState := filepath.Join(plan.StateDir, "matrix-job")
	out := &Outcome{}
	var jobErr error
	res, err := plan.Hold(ctx, func(ctx context.Context, env *scenario.Env) error {
		// Registered before the cluster, so it runs after the cluster (and
		// every pod with it) is gone: whatever a cell killed with its pod
		// left behind is put back now, not at the next Job.
		env.DeferCleanup("repair what killed cells left", func(ctx context.Context) error {
			_, err := experiment.Repair(ctx, cellState)
			return err
		})
		if _, err := experiment.Repair(ctx, cellState); err != nil {
			return fmt.Errorf("repairing what earlier cells left in %s: %w", cellState, err)
		}
		c, _, err := clusterkit.Start(ctx, env, false)
		if err != nil {
			return err
		}
		job, err := Manifest(Spec{Name: "relapse-matrix", Namespace: "default", Image: cluster.BusyboxImage,
			Cells: len(o.Cells), Parallelism: o.Parallelism, Relapse: self, Repo: repo, File: o.File, Speed: o.Speed,
			Canaries: o.Canaries, Sources: o.Sources, Results: results, State: cellState, LockWait: o.LockWait, Path: os.Getenv("PATH"),
			// This process lives in the host's namespaces for as long as the
			// Job runs; PID 1 may be out of reach (it is in this VM).
			Enter: os.Getpid()})
		if err != nil {
			return err
		}
		jobErr = runJob(ctx, env, c, job, o, out, results)
		return jobErr
	})
	if res != nil {
		out.Hold = res.Report
	}
	if jobErr != nil {
		return out, jobErr
	}
	return out, err
}

// runJob creates the Job, follows its pods until it ends or o.Within
// passes, and keeps each pod's log with its cell.
func runJob(ctx context.Context, env *scenario.Env, c *cluster.Cluster, job *batchv1.Job, o Options, out *Outcome, results string) error {
	jobs := c.Client.BatchV1().Jobs(job.Namespace)
	start := time.Now()
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the Indexed Job: %w", err)
	}
	env.Logf("matrix job: %d cells, parallelism %d, on %s %s", len(o.Cells), *job.Spec.Parallelism, c.Provider, c.Version)
	byPod := map[string]*Index{}
	var ended *batchv1.JobCondition
	seen := ""
	err := cluster.Poll(ctx, o.Within, time.Second, func(ctx context.Context) bool {
		pods, err := c.Client.CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job.Name})
		if err != nil {
			return false
		}
		running := 0
		for _, p := range pods.Items {
			ix, ok := byPod[p.Name]
			if !ok {
				n, _ := strconv.Atoi(p.Annotations[batchv1.JobCompletionIndexAnnotation])
				ix = &Index{Index: n, Pod: p.Name}
				if n < len(o.Cells) {
					ix.Cell = o.Cells[n].ID
				}
				byPod[p.Name] = ix
			}
			if p.Status.Phase == corev1.PodRunning {
				running++
				if ix.Started.IsZero() {
					ix.Started = time.Now()
				}
			}
			if (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) && ix.Finished.IsZero() {
				ix.Finished = time.Now()
				if ix.Started.IsZero() {
					ix.Started = ix.Finished
				}
			}
			ix.Phase = p.Status.Phase
		}
		out.MostRunning = max(out.MostRunning, running)
		if now := progress(byPod); now != seen {
			seen = now
			env.Logf("matrix job: %s", now)
		}
		j, err := jobs.Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for i, cond := range j.Status.Conditions {
			if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
				ended = &j.Status.Conditions[i]
				return true
			}
		}
		return false
	})
	out.Took = time.Since(start)
	for _, ix := range byPod {
		ix.Log = podLog(ctx, c, job.Namespace, ix.Pod)
		if ix.Cell != "" {
			dir := filepath.Join(results, "cell-"+strconv.Itoa(ix.Index), ix.Cell)
			if err := os.MkdirAll(dir, 0o755); err == nil {
				_ = os.WriteFile(filepath.Join(dir, "build-log.txt"), []byte(ix.Log), 0o644)
			}
		}
		out.Indexes = append(out.Indexes, *ix)
	}
	sort.Slice(out.Indexes, func(i, j int) bool { return out.Indexes[i].Index < out.Indexes[j].Index })
	env.Condition("matrix job", fmt.Sprintf("%d cells, parallelism %d, at most %d pods running at once, %s", len(o.Cells), *job.Spec.Parallelism, out.MostRunning, out.Took.Round(time.Second)))
	for _, ix := range out.Indexes {
		env.Event(fmt.Sprintf("index %d: %s", ix.Index, ix.Cell), fmt.Sprintf("%s after %s", ix.Phase, ix.Finished.Sub(ix.Started).Round(time.Second)))
	}
	switch {
	case errors.Is(err, cluster.ErrPollDeadline):
		return fmt.Errorf("the Indexed Job did not end within %s (%s)", o.Within, progress(byPod))
	case err != nil:
		return err
	case ended.Type == batchv1.JobFailed:
		return fmt.Errorf("the Indexed Job failed: %s: %s (%s)", ended.Reason, ended.Message, progress(byPod))
	}
	return nil
}

// progress is one line: how many pods are in each phase.
func progress(byPod map[string]*Index) string {
	count := map[corev1.PodPhase]int{}
	for _, ix := range byPod {
		count[ix.Phase]++
	}
	var parts []string
	for _, ph := range []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown} {
		if count[ph] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[ph], strings.ToLower(string(ph))))
		}
	}
	if len(parts) == 0 {
		return "no pods yet"
	}
	return strings.Join(parts, ", ")
}

func podLog(ctx context.Context, c *cluster.Cluster, ns, pod string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	data, err := c.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return "reading the pod's log failed: " + err.Error()
	}
	return string(data)
}
