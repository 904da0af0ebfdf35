package matrix

import (
	"testing"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/versions"
)

// A cell records what a selector resolved to, the commit it built and the
// fixes its patches revert: relapse results keys history rows by the
// selector, shows the resolved version per night and counts a fix-revert
// cell as a canary.
func TestFinishedRecordsSelectorCommitAndReverts(t *testing.T) {
	r := &report.Report{RunID: "run1",
		Bug:     report.Bug{ID: "containerd#5261", Fix: "runc#2871", Component: "runc", Affected: ">=1.0.0-rc93 <1.0.0-rc94"},
		Verdict: report.Verdict{Result: report.NotReproduced, Component: "runc", Version: "1.5.3", Cause: report.CauseEvidence},
		Components: []versions.Artifact{
			{Resolved: versions.Resolved{Component: "runc", Requested: "latest", Selected: "latest = v1.5.3: the newest release",
				Version: "v1.5.3", Sum: "h1:runc", Commit: "0123456789abcdef0123456789abcdef01234567",
				Patches: []versions.Patch{{Name: "revert-2871.patch", SHA256: "aaaaaaaaaaaaaaaa", RevertsFix: "runc#2871"}}}},
			{Resolved: versions.Resolved{Component: "containerd", Requested: "maintained", Selected: "latest-2.3 = v2.3.9",
				Version: "v2.3.9", Sum: "h1:ctrd"}},
			{Resolved: versions.Resolved{Component: "kubernetes", Requested: "source:/src/kubernetes", Version: "v1.37.2-0.20261201-feedfacefeed", Sum: "h1:k8s",
				Source: &versions.Source{Dir: "/src/kubernetes", Commit: "feedfacefeedfacefeedfacefeedfacefeedface", Describe: "v1.37.2-5-gfeedfac"}}},
			{Resolved: versions.Resolved{Component: "etcd", Requested: "3.5.0", Version: "v3.5.0", Sum: "h1:etcd"}},
		},
	}
	md := finished(Cell{ID: "c", Scenario: "runc-pipe-hang", Provider: "local", Speed: "fast"}, r, nil).Metadata
	for k, want := range map[string]string{
		"selector":            "latest",
		"selected":            "latest = v1.5.3: the newest release",
		"selector_runc":       "latest",
		"selector_containerd": "maintained",
		"selected_containerd": "latest-2.3 = v2.3.9",
		"commit_runc":         "0123456789abcdef0123456789abcdef01234567",
		"commit_kubernetes":   "feedfacefeedfacefeedfacefeedfacefeedface",
		"selector_kubernetes": "source:/src/kubernetes",
		"selected_kubernetes": "/src/kubernetes at feedfacefeedfacefeedfacefeedfacefeedface (v1.37.2-5-gfeedfac)",
		"reverts":             "runc#2871",
		"fix":                 "runc#2871",
		"speed":               "fast",
	} {
		if md[k] != want {
			t.Errorf("metadata.%s = %q, want %q", k, md[k], want)
		}
	}
	for _, k := range []string{"selector_etcd", "commit_containerd", "commit_etcd"} {
		if v, ok := md[k]; ok {
			t.Errorf("metadata.%s = %q: a version named as such (or without a known commit) records none", k, v)
		}
	}
}
