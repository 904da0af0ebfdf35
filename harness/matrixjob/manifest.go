package matrixjob

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/relapse-dev/relapse/harness/textutil"
)

// Spec says what the Job runs and where its files are on the node.
type Spec struct {
	Name, Namespace string
	// Image is any image with a shell and nsenter (busybox).
	Image string
	// Cells is how many cells the selection holds: the Job's completions.
	Cells       int
	Parallelism int
	// Relapse is the relapse binary on the node; Repo the directory it runs
	// in (the matrix file's and patches' paths are relative to it).
	Relapse, Repo string
	// File and Speed select the cells exactly as the list that counted
	// them did; Canaries likewise.
	File, Speed string
	Canaries    bool
	// Sources is NIGHTLY_SOURCES for the cells (the checkouts behind
	// git:upstream@<ref>), already checked; the pods run with it.
	Sources string
	// Results is the node directory that receives cell-<index>/<cell id>/.
	Results string
	// State is the cells' state directory (journal, host lock).
	State string
	// LockWait is how long a cell waits for another cell's host lock.
	LockWait time.Duration
	// Path is the PATH the cells run with on the node (Go for builds).
	Path string
	// Enter is the node process whose namespaces the pod enters: 1 (init)
	// on a normal node; a process of relapse's own where init is out of
	// reach (a sandboxed VM whose PID 1 nobody may inspect).
	Enter int
}

// script runs in the pod: the completion index becomes shard index+1 of
// Cells, so each index runs exactly one cell, on the node. The pod succeeds
// when the cell ran and wrote its results, whatever its verdict (relapse
// exits 4 on a verdict against the affected range: the results say so and
// the merge flags it); only relapse failing fails the pod.
const script = `set -u
i=$((JOB_COMPLETION_INDEX + 1))
echo "relapse matrix job: index $JOB_COMPLETION_INDEX runs shard $i/$CELLS of $FILE on $(hostname)"
status=0
nsenter -t "$ENTER" -m -u -i -n -p -- /usr/bin/env -i PATH="$NODE_PATH" HOME=/root RELAPSE_STATE="$STATE" NIGHTLY_SOURCES="$SOURCES" \
  /bin/sh -c 'cd "$1" && shift && exec "$@"' relapse-cell "$REPO" \
  "$RELAPSE" matrix --file "$FILE" $SELECT --shard "$i/$CELLS" --results "$RESULTS/cell-$JOB_COMPLETION_INDEX" --lock-wait "$LOCK_WAIT" || status=$?
echo "relapse matrix job: index $JOB_COMPLETION_INDEX exited $status"
case $status in 0|4) exit 0 ;; *) exit "$status" ;; esac`

// Manifest is the Indexed Job.
func Manifest(s Spec) (*batchv1.Job, error) {
	if s.Cells < 1 {
		return nil, fmt.Errorf("no cells to run")
	}
	if s.Parallelism < 1 {
		s.Parallelism = 1
	}
	if s.Enter < 1 {
		s.Enter = 1
	}
	for name, v := range map[string]string{"image": s.Image, "relapse": s.Relapse, "repo": s.Repo, "file": s.File, "results": s.Results, "state": s.State} {
		if v == "" {
			return nil, fmt.Errorf("the Indexed Job needs its %s", name)
		}
	}
	completions, parallelism := int32(s.Cells), int32(s.Parallelism)
	// A pod fails only when relapse itself did; retrying would run the
	// cell's host changes twice for nothing: each index runs once.
	zero := int32(0)
	mode := batchv1.IndexedCompletion
	privileged, yes := true, true
	var sel []string
	if s.Speed != "" {
		sel = append(sel, "--speed "+s.Speed)
	}
	if !s.Canaries {
		sel = append(sel, "--canaries=false")
	}
	env := []corev1.EnvVar{
		{Name: "CELLS", Value: fmt.Sprint(s.Cells)}, {Name: "FILE", Value: s.File}, {Name: "SELECT", Value: strings.Join(sel, " ")},
		{Name: "RELAPSE", Value: s.Relapse}, {Name: "REPO", Value: s.Repo}, {Name: "RESULTS", Value: s.Results},
		{Name: "STATE", Value: s.State}, {Name: "LOCK_WAIT", Value: s.LockWait.String()}, {Name: "NODE_PATH", Value: s.Path},
		{Name: "ENTER", Value: fmt.Sprint(s.Enter)}, {Name: "SOURCES", Value: s.Sources},
	}
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "relapse-matrix"}},
		Spec: batchv1.JobSpec{
			Completions: &completions, Parallelism: &parallelism, CompletionMode: &mode,
			BackoffLimitPerIndex: &zero,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "relapse-matrix"}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, HostPID: true, AutomountServiceAccountToken: new(bool),
					Containers: []corev1.Container{{
						Name: "cell", Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
						Command: []string{"sh", "-c", script}, Env: env,
						SecurityContext: &corev1.SecurityContext{Privileged: &privileged, AllowPrivilegeEscalation: &yes},
					}},
				},
			},
		},
	}
	return job, nil
}

// YAML renders the Job for kubectl apply.
func YAML(j *batchv1.Job) (string, error) {
	data, err := yaml.Marshal(j)
	if err != nil {
		return "", err
	}
	head := "# The relapse matrix as a Kubernetes Indexed Job: one completion index per cell.\n" +
		"# The nodes need the repository at " + textutil.ShellQuote(envValue(j, "REPO")) + " and relapse at " + textutil.ShellQuote(envValue(j, "RELAPSE")) + ";\n" +
		"# results land on the node under " + textutil.ShellQuote(envValue(j, "RESULTS")) + " (merge them: relapse results --merge DIR).\n"
	return head + string(data), nil
}

func envValue(j *batchv1.Job, name string) string {
	for _, e := range j.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
