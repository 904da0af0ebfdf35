package experiment

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/relapse-dev/relapse/harness/report"
)

// relapseModule is the module path a checkout of relapse declares.
const relapseModule = "github.com/relapse-dev/relapse"

var (
	buildOnce sync.Once
	thisBuild report.Tool
)

// RelapseBuild says which relapse made the report: the commit the binary
// was built from (Go stamps it into binaries built in a checkout), else the
// checkout the process runs in (test binaries carry no stamp), and the Go
// that built it.
func RelapseBuild() report.Tool {
	buildOnce.Do(func() {
		thisBuild = report.Tool{Go: runtime.Version(), Version: "unknown"}
		if bi, ok := debug.ReadBuildInfo(); ok {
			if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				thisBuild.Version = bi.Main.Version
			}
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					thisBuild.Commit = s.Value
				case "vcs.modified":
					thisBuild.Modified = s.Value == "true"
				}
			}
		}
		if thisBuild.Commit == "" {
			thisBuild.Commit, thisBuild.Modified = checkoutCommit()
		}
		if thisBuild.Version == "unknown" && thisBuild.Commit != "" {
			thisBuild.Version = "commit " + thisBuild.Commit[:min(12, len(thisBuild.Commit))]
			if thisBuild.Modified {
				thisBuild.Version += " with local changes"
			}
		}
	})
	return thisBuild
}

// checkoutCommit reads HEAD of the relapse checkout around the working
// directory, if it is one.
func checkoutCommit() (string, bool) {
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	top, err := exec.Command("git", "-C", wd, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", false
	}
	root := strings.TrimSpace(string(top))
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.Contains(string(mod), "module "+relapseModule+"\n") {
		return "", false
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	status, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(head)), len(strings.TrimSpace(string(status))) > 0
}
