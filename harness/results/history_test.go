package results

import (
	"fmt"
	"strings"
	"testing"
)

// loadCompare loads the store and compares its nights.
func loadCompare(t *testing.T, store string) *Comparison {
	t.Helper()
	nights, byNight, err := Load(store)
	if err != nil {
		t.Fatal(err)
	}
	return Compare(nights, byNight)
}

// Nights run in the order their cells started, named run-N as the GitHub
// workflow names them: run-10 comes after run-9, not before it.
func TestNightsOrderedByTimeNotName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nights map[string]int64 // night -> start
		want   string
	}{
		{"run numbers past 9", map[string]int64{"run-8": 800, "run-9": 900, "run-10": 1000, "run-11": 1100}, "run-8,run-9,run-10,run-11"},
		{"time over name", map[string]int64{"b": 100, "a": 200}, "b,a"},
		{"same start: numbers as numbers", map[string]int64{"run-10": 500, "run-9": 500, "run-100": 500}, "run-9,run-10,run-100"},
		{"same start: leading zeros", map[string]int64{"run-010": 500, "run-9": 500}, "run-9,run-010"},
		{"same start: other prefixes as text", map[string]int64{"x2": 500, "b10": 500, "b9": 500}, "b9,b10,x2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			for n, start := range tc.nights {
				night(t, store, n, start, func(d string) {
					cell(t, d, "c", start, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
				})
			}
			nights, _, err := Load(store)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(nights, ","); got != tc.want {
				t.Errorf("nights %s, want %s", got, tc.want)
			}
		})
	}
}

// canaryMeta is a cell of runc 1.1.14 with runc#2871 reverted.
func canaryMeta(verdict string, marked bool) map[string]string {
	m := runcMeta("1.1.14", verdict)
	m["fix"], m["reverts"], m["patches_runc"] = "runc#2871", "runc#2871", "revert-2871-v1.1.14.patch@0123456789ab"
	if marked {
		m["canary"] = "true"
	}
	return m
}

// A fix-revert cell is a canary whether or not its matrix said so; a
// canary that missed or did not run fails the night (CANARY MISSED).
func TestCanaries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tonight   map[string]string // nil: the cell did not run
		canary    bool
		wantFlags string
	}{
		{"marked canary relapsed", canaryMeta("REPRODUCED", true), true, FlagRelapse},
		{"fix-revert cell not marked relapsed", canaryMeta("REPRODUCED", false), true, FlagRelapse},
		{"fix-revert cell not marked missed", canaryMeta("NOT REPRODUCED", false), true, FlagCanaryMissed + "," + FlagFlaky},
		{"canary did not run", nil, true, FlagStale + "," + FlagCanaryMissed},
		{"a patch reverting another fix is no canary", func() map[string]string {
			m := canaryMeta("REPRODUCED", false)
			m["reverts"] = "runc#1234,runc#5678"
			return m
		}(), false, FlagRelapse},
		{"no canary did not run", func() map[string]string { return nil }(), false, FlagStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			first := canaryMeta("REPRODUCED", false)
			if !tc.canary {
				first["reverts"] = "runc#1234"
			}
			night(t, store, "run-9", 900, func(d string) {
				cell(t, d, "c", 900, true, first)
				cell(t, d, "other", 900, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
			})
			night(t, store, "run-10", 1000, func(d string) {
				if tc.tonight != nil {
					cell(t, d, "c", 1000, true, tc.tonight)
				}
				cell(t, d, "other", 1000, true, runcMeta("1.0.0-rc94", "NOT REPRODUCED"))
			})
			c := loadCompare(t, store)
			r := rowOf(t, c, "c")
			if got := strings.Join(r.Flags, ","); got != tc.wantFlags || r.Canary != tc.canary {
				t.Errorf("flags %q canary %t, want %q and %t (why: %v)", got, r.Canary, tc.wantFlags, tc.canary, r.Why)
			}
			if relapses := len(c.Has(FlagRelapse, true)); tc.canary && relapses != 0 {
				t.Errorf("Has(RELAPSE, skipCanary) counts the canary")
			}
		})
	}
}

// selectorMeta is a cell whose runc a selector chose.
func selectorMeta(selector, version, verdict string) map[string]string {
	m := runcMeta(version, verdict)
	// No affected range: the selector's own rule is what flags (a range
	// the new version is outside of flags it too, once).
	delete(m, "affected")
	m["selector"], m["selected"] = selector, selector+" = v"+version
	m["selector_runc"], m["selected_runc"] = m["selector"], m["selected"]
	return m
}

// A selector row keeps one history whatever the selector resolves to,
// and flags RELAPSE when a newly resolved version reproduces a bug its
// predecessor did not.
func TestSelectorRows(t *testing.T) {
	type ran struct{ version, verdict string }
	for _, tc := range []struct {
		name      string
		selector  string
		nights    []ran
		wantFlags string
		wantLabel string
	}{
		{"new release reproduces", "latest", []ran{{"1.5.3", "NOT REPRODUCED"}, {"1.5.4", "REPRODUCED"}}, FlagRelapse, "runc latest"},
		{"still reproduces a night later", "latest", []ran{{"1.5.3", "NOT REPRODUCED"}, {"1.5.4", "REPRODUCED"}, {"1.5.4", "REPRODUCED"}}, FlagRelapse, "runc latest"},
		{"predecessor errored: the one before it counts", "latest-1.5", []ran{{"1.5.2", "NOT REPRODUCED"}, {"1.5.3", ""}, {"1.5.4", "REPRODUCED"}}, FlagRelapse, "runc latest-1.5"},
		{"predecessor reproduced too", "latest", []ran{{"1.5.3", "REPRODUCED"}, {"1.5.4", "REPRODUCED"}}, "", "runc latest"},
		{"same version changed verdict: flaky, not a relapse", "latest", []ran{{"1.5.3", "NOT REPRODUCED"}, {"1.5.3", "REPRODUCED"}}, FlagFlaky, "runc latest"},
		{"new version flaky", "latest", []ran{{"1.5.3", "NOT REPRODUCED"}, {"1.5.4", "NOT REPRODUCED"}, {"1.5.4", "REPRODUCED"}}, FlagFlaky, "runc latest"},
		{"new release fixed it", "maintained", []ran{{"1.4.3", "REPRODUCED"}, {"1.4.4", "NOT REPRODUCED"}}, FlagNewlyFixed, "runc maintained 1.4"},
		{"unchanged", "latest", []ran{{"1.5.3", "NOT REPRODUCED"}, {"1.5.3", "NOT REPRODUCED"}}, "", "runc latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			for i, n := range tc.nights {
				start := int64(1000 * (i + 1))
				m := selectorMeta(tc.selector, n.version, n.verdict)
				if n.verdict == "" {
					delete(m, "verdict")
				}
				// The cell ID names the selector, as a matrix file
				// naming it makes it.
				id := "runc-pipe-hang.runc-" + tc.selector
				night(t, store, fmt.Sprintf("run-%d", i+8), start, func(d string) { cell(t, d, id, start, true, m) })
			}
			c := loadCompare(t, store)
			if len(c.Rows) != 1 {
				t.Fatalf("%d rows, want one for the selector", len(c.Rows))
			}
			r := c.Rows[0]
			if got := strings.Join(r.Flags, ","); got != tc.wantFlags || r.Label != tc.wantLabel {
				t.Errorf("flags %q label %q, want %q and %q (why: %v)", got, r.Label, tc.wantFlags, tc.wantLabel, r.Why)
			}
			if tc.wantFlags == FlagRelapse && !strings.Contains(strings.Join(r.Why, ";"), "resolved to 1.5.4, which reproduced") {
				t.Errorf("why %v does not name the new version", r.Why)
			}
			if got := len(c.Has(FlagRelapse, true)); (tc.wantFlags == FlagRelapse) != (got == 1) {
				t.Errorf("Has(RELAPSE) = %d rows", got)
			}
		})
	}
}

// A cell ID naming what the selector resolved to still lands in the
// selector's row; maintained keeps one row per line.
func TestSelectorRowKeyedBySelectorNotVersion(t *testing.T) {
	store := t.TempDir()
	night(t, store, "run-1", 1000, func(d string) {
		cell(t, d, "runc-pipe-hang.runc-1.5.3", 1000, true, selectorMeta("maintained", "1.5.3", "NOT REPRODUCED"))
		cell(t, d, "runc-pipe-hang.runc-1.4.3", 1000, true, selectorMeta("maintained", "1.4.3", "NOT REPRODUCED"))
	})
	night(t, store, "run-2", 2000, func(d string) {
		cell(t, d, "runc-pipe-hang.runc-1.5.4", 2000, true, selectorMeta("maintained", "1.5.4", "REPRODUCED"))
		cell(t, d, "runc-pipe-hang.runc-1.4.3", 2000, true, selectorMeta("maintained", "1.4.3", "NOT REPRODUCED"))
	})
	c := loadCompare(t, store)
	got := map[string]string{}
	for _, r := range c.Rows {
		got[r.Cell+" | "+r.Label] = strings.Join(r.Flags, ",")
	}
	want := map[string]string{
		"runc-pipe-hang.runc-maintained-1.5 | runc maintained 1.5": FlagRelapse,
		"runc-pipe-hang.runc-maintained-1.4 | runc maintained 1.4": "",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

// The dashboard shows a selector row's resolved version each night, marks
// the night it changed, and the relapsing night as RELAPSE.
func TestDashboardShowsResolvedVersions(t *testing.T) {
	store := t.TempDir()
	for i, n := range []struct{ version, verdict string }{{"1.5.3", "NOT REPRODUCED"}, {"1.5.3", "NOT REPRODUCED"}, {"1.5.4", "REPRODUCED"}} {
		start := int64(1000 * (i + 1))
		m := selectorMeta("latest", n.version, n.verdict)
		m["commit_runc"] = fmt.Sprintf("%d0123456789abcdef0123456789abcdef0123456", i/2)
		night(t, store, fmt.Sprintf("run-%d", i+9), start, func(d string) { cell(t, d, "r.runc-latest", start, true, m) })
	}
	var b strings.Builder
	if err := Dashboard(&b, "t", loadCompare(t, store), store); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		// Newest first: run-11 changed to 1.5.4 and relapsed.
		`<th class="night">run-11</th><th class="night">run-10</th><th class="night">run-9</th>`,
		`class="v relapse changed" title="night run-11: REPRODUCED; expected ; SUCCESS; latest resolved to 1.5.4 1012345678`,
		`RELAPSE<span class="rate">1/1</span><span class="rate">&#9650;1.5.4 10123456789a</span>`,
		`<td class="v clean" title="night run-10: NOT REPRODUCED; expected ; SUCCESS">NOT REPRO<span class="rate">1/1</span><span class="rate">1.5.3 00123456789a</span>`,
		"runc latest",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
}

// A canary is expected in the latest night when the night ran cells of
// its speed: make nightly runs the fast cells only, and a slow canary
// missing from such a night is stale, not missed.
func TestMissingCanaryBySpeed(t *testing.T) {
	for _, tc := range []struct {
		name, canarySpeed, tonightSpeed, want string
	}{
		{"slow canary, fast night", "slow", "fast", FlagStale},
		{"slow canary, slow night", "slow", "slow", FlagStale + "," + FlagCanaryMissed},
		{"fast canary, fast night", "fast", "fast", FlagStale + "," + FlagCanaryMissed},
		{"canary of no recorded speed", "", "fast", FlagStale + "," + FlagCanaryMissed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			can := canaryMeta("REPRODUCED", true)
			can["speed"] = tc.canarySpeed
			other := func() map[string]string {
				m := runcMeta("1.0.0-rc94", "NOT REPRODUCED")
				m["speed"] = tc.tonightSpeed
				return m
			}
			night(t, store, "run-1", 1000, func(d string) {
				cell(t, d, "canary", 1000, true, can)
				cell(t, d, "other", 1000, true, other())
			})
			night(t, store, "run-2", 2000, func(d string) { cell(t, d, "other", 2000, true, other()) })
			r := rowOf(t, loadCompare(t, store), "canary")
			if got := strings.Join(r.Flags, ","); got != tc.want {
				t.Errorf("flags %q, want %q (why: %v)", got, tc.want, r.Why)
			}
		})
	}
}

// A source row (a checkout of upstream main built at its HEAD each night)
// relapses when a new commit reproduces what the commit before did not,
// though both carry the same version.
func TestSourceRowRelapsesOnANewCommit(t *testing.T) {
	store := t.TempDir()
	for i, n := range []struct{ commit, verdict string }{
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "NOT REPRODUCED"},
		{"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "REPRODUCED"},
	} {
		start := int64(1000 * (i + 1))
		m := selectorMeta("source:/src/runc", "1.6.0-0.dev", n.verdict)
		m["commit_runc"] = n.commit
		night(t, store, fmt.Sprintf("run-%d", i+1), start, func(d string) { cell(t, d, "runc-pipe-hang.runc-main", start, true, m) })
	}
	r := rowOf(t, loadCompare(t, store), "runc-pipe-hang.runc-main")
	why := strings.Join(r.Why, ";")
	if strings.Join(r.Flags, ",") != FlagRelapse || !strings.Contains(why, "resolved to 1.6.0-0.dev bbbbbbbbbbbb, which reproduced; 1.6.0-0.dev aaaaaaaaaaaa") {
		t.Errorf("flags %v why %q, want RELAPSE naming both commits", r.Flags, why)
	}
}
