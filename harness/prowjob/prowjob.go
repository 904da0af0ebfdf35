package prowjob

// Names of a cell's files, in its directory.
const (
	StartedName   = "started.json"
	FinishedName  = "finished.json"
	ArtifactsName = "artifacts"
)

// JUnitFile is the one JUnit of the cell id, in its artifacts directory:
// the name Prow's convention gives a context's results (junit_<context>.xml).
func JUnitFile(id string) string { return "junit_" + id + ".xml" }

// Results a finished.json carries: the values Prow writes (a job that
// fails for any reason is a FAILURE; one stopped before its end is
// ABORTED), which TestGrid and Spyglass know.
const (
	ResultSuccess = "SUCCESS"
	ResultFailure = "FAILURE"
	ResultAborted = "ABORTED"
	// ResultError is what relapse wrote for its own failures before it
	// kept to Prow's values; nights already in a store carry it, so a
	// reader accepts it and a writer never uses it.
	ResultError = "ERROR"
)

// KnownResult says whether a reader accepts result in a finished.json.
func KnownResult(result string) bool {
	switch result {
	case ResultSuccess, ResultFailure, ResultAborted, ResultError:
		return true
	}
	return false
}

// Started is started.json. RepoCommit is the relapse commit that ran the
// cell (TestGrid's commit header); metadata values are strings, the only
// ones TestGrid shows as columns.
type Started struct {
	Timestamp  int64             `json:"timestamp"`
	Node       string            `json:"node,omitempty"`
	RepoCommit string            `json:"repo-commit,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// Finished is finished.json: TestGrid shows its metadata as columns. A
// cell passed exactly when its result is ResultSuccess.
type Finished struct {
	Timestamp int64             `json:"timestamp"`
	Passed    bool              `json:"passed"`
	Result    string            `json:"result"`
	Metadata  map[string]string `json:"metadata"`
}
