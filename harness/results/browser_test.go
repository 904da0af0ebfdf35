package results

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/browser"
	"github.com/relapse-dev/relapse/harness/prowjob"
)

// TestDashboardInBrowser renders a dashboard with the nightly matrix's shape
// (every flag, ten nights, long names) in headless Chromium: it paints,
// nothing is wider than a 1400 px window or a 1024 px one, and every link
// reaches a report. Chromium renders with the pinned fonts (DejaVu, see
// harness/browser), so the widths are the same on any machine.
func TestDashboardInBrowser(t *testing.T) {
	if _, err := browser.Binary(); err != nil {
		t.Skipf("skipped: %v", err)
	}
	store := t.TempDir()
	versions := []string{"1.0.0-rc92", "1.0.0-rc93", "1.0.0-rc94", "1.1.14"}
	for n := 1; n <= 11; n++ {
		name := fmt.Sprintf("2026-11-%02dT0217", n)
		night(t, store, name, int64(n*1000), func(d string) {
			for _, v := range versions {
				verdict := "NOT REPRODUCED"
				if v == "1.0.0-rc93" || (v == "1.0.0-rc94" && n == 11) {
					verdict = "REPRODUCED"
				}
				// The widest word a cell shows.
				if v == "1.1.14" && n%3 == 0 {
					verdict = "INCONCLUSIVE"
				}
				m := runcMeta(v, verdict)
				m["bug_title"] = "runc init hangs writing to its sync pipe when the pipe buffer is one page (runc#2871 sizes it before the write); docker run never returns"
				m["report"], m["k"], m["n"] = "r-"+v, "3", "4"
				id := "runc-pipe-hang.kernel-6.12.provider-qemu.runc-" + v + ".patch-revert-2871-with-a-really-long-name"
				cell(t, d, id, int64(n*1000), verdict != "REPRODUCED" || v == "1.0.0-rc93", m)
				rep := filepath.Join(d, id, "artifacts", "reports", "r-"+v)
				if err := os.MkdirAll(rep, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(rep, "report.html"), []byte("<p>report</p>"), 0o644); err != nil {
					t.Fatal(err)
				}
				if v == "1.0.0-rc94" && n == 11 {
					attachBisection(t, filepath.Join(d, id))
				}
			}
			if n < 11 {
				cell(t, d, "containerd-metrics-deadlock.containerd-1.6.2.tasks-150", int64(n*1000), true, map[string]string{
					"bug": "containerd#6772", "component": "containerd", "version": "1.6.2", "verdict": "REPRODUCED", "k": "10", "n": "10"})
			}
		})
	}
	nights, byNight, err := Load(store)
	if err != nil {
		t.Fatal(err)
	}
	c := Compare(nights, byNight)
	page := filepath.Join(store, "dashboard.html")
	var b strings.Builder
	if err := Dashboard(&b, "relapse nightly", c, store); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{FlagRelapse, FlagStale, FlagFailing} {
		if len(c.Has(flag, false)) == 0 {
			t.Fatalf("the test's store raises no %s: it no longer covers the dashboard's states", flag)
		}
	}
	ctx := context.Background()
	png := filepath.Join(t.TempDir(), "dashboard.png")
	if d := os.Getenv("RELAPSE_KEEP_SCREENSHOT"); d != "" {
		png = filepath.Join(d, "dashboard.png")
	}
	if err := browser.Screenshot(ctx, page, png, 1400, 900); err != nil {
		t.Fatal(err)
	}
	if p, err := browser.Painted(png); err != nil || p < 0.05 {
		t.Errorf("the dashboard painted %.3f of the window (%v): it did not render", p, err)
	}
	for _, width := range []int{1400, 1024} {
		l, err := browser.Inspect(ctx, page, width, 900)
		if err != nil {
			t.Fatal(err)
		}
		if l.ScrollWidth > l.Viewport || len(l.Overflow) > 0 {
			t.Errorf("at %d px the page is %d px wide; overflowing:\n%s", width, l.ScrollWidth, strings.Join(l.Overflow, "\n"))
		}
		// Ten nights shown for four report-backed rows, and the
		// relapse's bisection page and summary.
		if len(l.Links) != 4*maxNights+2 {
			t.Errorf("at %d px: %d links, want %d (one per report-backed cell, two for the bisection)", width, len(l.Links), 4*maxNights+2)
		}
		if bad := browser.Unresolved(page, l.Links); len(bad) > 0 {
			t.Errorf("links that reach nothing: %v", bad)
		}
	}
}

// attachBisection attaches to a cell a bisection with the longest words
// one shows: commits as git describe names them on a fork's branch.
func attachBisection(t *testing.T, cell string) {
	t.Helper()
	dir := filepath.Join(cell, prowjob.ArtifactsName, BisectDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := Bisection{Scenario: "runc-pipe-hang", Component: "runc", Selector: "git:https://github.com/someone/runc-with-a-long-fork-name@release-1.0-backports",
		Good: "v1.0.0-rc93-1234-g0123456789ab", Bad: "v1.0.0-rc94-5678-gba9876543210", GoodNight: "2026-11-10T0217",
		FirstBad: "0123456789ab (v1.0.0-rc94-backport-seccomp-export-bpf-before-reading-pipe-1-g0123456789ab)", LastGood: "ba9876543210 (v1.0.0-rc93-1233-gba9876543210)",
		Experiments: 7, Seconds: 412}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string][]byte{BisectionName: data, BisectPageName: []byte("<p>bisection</p>"), BisectSummaryName: []byte("### summary")} {
		if err := os.WriteFile(filepath.Join(dir, name), text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
