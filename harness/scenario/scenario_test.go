package scenario_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/report"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
)

func TestExpectRunc2828AffectedRange(t *testing.T) {
	tests := []struct {
		version string
		want    report.Result
		why     string
	}{
		{"v1.0.0-rc93", report.Reproduced, "runc 1.0.0-rc93 is within the affected range >= 1.0.0-rc93, < 1.0.0-rc94"},
		{"1.0.0-rc93", report.Reproduced, "runc 1.0.0-rc93 is within the affected range >= 1.0.0-rc93, < 1.0.0-rc94"},
		{"v1.0.0-rc92", report.NotReproduced, "runc 1.0.0-rc92 is outside the affected range >= 1.0.0-rc93, < 1.0.0-rc94 (fixed: " + runcpipehang.Bug.Fixed + ")"},
		{"v1.0.0-rc94", report.NotReproduced, "runc 1.0.0-rc94 is outside the affected range"},
		{"v1.0.0-rc95", report.NotReproduced, "outside the affected range"},
		{"v1.0.0", report.NotReproduced, "runc 1.0.0 is outside"},
		{"v1.1.14", report.NotReproduced, "runc 1.1.14 is outside the affected range"},
		{"v0.1.1", report.NotReproduced, "runc 0.1.1 is outside"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			got, why, err := scenario.Expect(runcpipehang.Bug, tt.version)
			if err != nil {
				t.Fatalf("Expect: %v", err)
			}
			if got != tt.want {
				t.Errorf("result = %s, want %s (%s)", got, tt.want, why)
			}
			if !strings.Contains(why, tt.why) {
				t.Errorf("why = %q, want it to contain %q", why, tt.why)
			}
		})
	}
}

func TestExpectErrors(t *testing.T) {
	bad := runcpipehang.Bug
	bad.Affected = ">>= rc93"
	tests := []struct {
		name    string
		bug     report.Bug
		version string
		want    string
	}{
		{"bad constraint", bad, "v1.0.0-rc93", `bug runc#2828 affected range ">>= rc93"`},
		{"bad version", runcpipehang.Bug, "rc93", `version "rc93"`},
		{"empty version", runcpipehang.Bug, "", `version ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why, err := scenario.Expect(tt.bug, tt.version)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if got != report.Inconclusive || why != "" {
				t.Errorf("result, why = %s, %q; want INCONCLUSIVE, empty", got, why)
			}
		})
	}
}

var defaults = map[string]string{
	"profile": "large", "attempts": "3", "soft-limit": "1",
	"create-timeout": "20s", "engine": "runc", "hold": "0s", "baseline": "true",
}

func TestResolveParamsDefaultsAndOverrides(t *testing.T) {
	s := runcpipehang.Scenario{}
	tests := []struct {
		name  string
		given map[string]string
		want  map[string]string
	}{
		{"nil gives defaults", nil, defaults},
		{"empty gives defaults", map[string]string{}, defaults},
		{"overrides merge over defaults", map[string]string{"attempts": "5", "profile": "docker-default", "hold": "30s"},
			map[string]string{"profile": "docker-default", "attempts": "5", "soft-limit": "1",
				"create-timeout": "20s", "engine": "runc", "hold": "30s", "baseline": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scenario.ResolveParams(s, tt.given)
			if err != nil {
				t.Fatalf("ResolveParams: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("params = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolveParamsRejects(t *testing.T) {
	s := runcpipehang.Scenario{}
	tests := []struct {
		name  string
		given map[string]string
		want  string
	}{
		{"unknown param lists the known names", map[string]string{"bogus": "1"},
			`scenario runc-pipe-hang has no parameter "bogus": its parameters are profile, attempts, soft-limit, create-timeout, engine, hold, baseline`},
		{"attempts=0", map[string]string{"attempts": "0"}, `parameter attempts="0": want an integer from 1 to 100`},
		{"attempts=101", map[string]string{"attempts": "101"}, `parameter attempts="101": want an integer from 1 to 100`},
		{"create-timeout=abc", map[string]string{"create-timeout": "abc"}, `parameter create-timeout="abc": want a positive duration such as 20s or 1m`},
		{"create-timeout=0s", map[string]string{"create-timeout": "0s"}, `parameter create-timeout="0s": want a positive duration`},
		{"hold=-1s", map[string]string{"hold": "-1s"}, `parameter hold="-1s": want a duration such as 0s, 30s or 5m`},
		{"profile=huge", map[string]string{"profile": "huge"}, `parameter profile="huge": want one of docker-default, large`},
		{"baseline=yes", map[string]string{"baseline": "yes"}, `parameter baseline="yes": want one of true, false`},
		{"soft-limit=-1", map[string]string{"soft-limit": "-1"}, `parameter soft-limit="-1": want an integer from 0 to 1073741824`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scenario.ResolveParams(s, tt.given)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if got != nil {
				t.Errorf("params = %v, want nil", got)
			}
		})
	}
}

func TestRuncPipeHangParamDefaultsAreValid(t *testing.T) {
	for _, p := range (runcpipehang.Scenario{}).Params() {
		if p.Valid == nil {
			t.Errorf("param %s has no validator", p.Name)
			continue
		}
		if err := p.Valid(p.Default); err != nil {
			t.Errorf("param %s default %q is invalid: %v", p.Name, p.Default, err)
		}
		if p.Help == "" {
			t.Errorf("param %s has no help", p.Name)
		}
	}
}

func TestLookup(t *testing.T) {
	s, err := scenario.Lookup(runcpipehang.Name)
	if err != nil || s.Name() != "runc-pipe-hang" {
		t.Fatalf("Lookup(runc-pipe-hang) = %v, %v", s, err)
	}
	if s.Bug().ID != "runc#2828" {
		t.Errorf("Bug().ID = %q", s.Bug().ID)
	}
	_, err = scenario.Lookup("nope")
	want := `unknown scenario "nope": known scenarios are runc-pipe-hang`
	if err == nil || err.Error() != want {
		t.Errorf("Lookup(nope) err = %v, want %q", err, want)
	}
	if names := scenario.Names(); !reflect.DeepEqual(names, []string{"runc-pipe-hang"}) {
		t.Errorf("Names() = %q, want [runc-pipe-hang]", names)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		r := recover()
		if r != "scenario registered twice: runc-pipe-hang" {
			t.Errorf("recover() = %v, want the duplicate-registration panic", r)
		}
	}()
	scenario.Register(runcpipehang.Scenario{})
}

func TestOneOf(t *testing.T) {
	valid := scenario.OneOf("docker-default", "large")
	tests := []struct {
		v       string
		wantErr bool
	}{
		{"docker-default", false}, {"large", false}, {"Large", true}, {"", true}, {"large ", true},
	}
	for _, tt := range tests {
		err := valid(tt.v)
		if (err != nil) != tt.wantErr {
			t.Errorf("OneOf(%q) = %v, wantErr %v", tt.v, err, tt.wantErr)
		}
		if err != nil && err.Error() != "want one of docker-default, large" {
			t.Errorf("OneOf(%q) message = %q", tt.v, err)
		}
	}
}

func TestIntIn(t *testing.T) {
	valid := scenario.IntIn(1, 100)
	tests := []struct {
		v       string
		wantErr bool
	}{
		{"1", false}, {"100", false}, {"42", false}, {"0", true}, {"101", true}, {"-5", true},
		{"abc", true}, {"", true}, {"1.5", true}, {" 5", true}, {"0x10", true},
	}
	for _, tt := range tests {
		err := valid(tt.v)
		if (err != nil) != tt.wantErr {
			t.Errorf("IntIn(1,100)(%q) = %v, wantErr %v", tt.v, err, tt.wantErr)
		}
		if err != nil && err.Error() != "want an integer from 1 to 100" {
			t.Errorf("IntIn(%q) message = %q", tt.v, err)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		v       string
		wantErr bool
	}{
		{"20s", false}, {"1m", false}, {"1ms", false}, {"1h30m", false},
		{"0s", true}, {"0", true}, {"-1s", true}, {"abc", true}, {"", true}, {"20", true},
	}
	for _, tt := range tests {
		err := scenario.Duration(tt.v)
		if (err != nil) != tt.wantErr {
			t.Errorf("Duration(%q) = %v, wantErr %v", tt.v, err, tt.wantErr)
		}
	}
}

func TestNonNegativeDuration(t *testing.T) {
	tests := []struct {
		v       string
		wantErr bool
	}{
		{"0s", false}, {"0", false}, {"30s", false}, {"5m", false},
		{"-1s", true}, {"abc", true}, {"", true}, {"30", true},
	}
	for _, tt := range tests {
		err := scenario.NonNegativeDuration(tt.v)
		if (err != nil) != tt.wantErr {
			t.Errorf("NonNegativeDuration(%q) = %v, wantErr %v", tt.v, err, tt.wantErr)
		}
		if err != nil && err.Error() != "want a duration such as 0s, 30s or 5m" {
			t.Errorf("NonNegativeDuration(%q) message = %q", tt.v, err)
		}
	}
}

func TestEnvDeferCleanupRunsLIFOAndRecordsSteps(t *testing.T) {
	env := &scenario.Env{Report: &report.Report{}}
	var order []string
	step := func(name string, err error) func(context.Context) error {
		return func(context.Context) error { order = append(order, name); return err }
	}
	env.DeferCleanup("first", step("first", nil))
	env.DeferCleanup("second", step("second", errors.New("boom")))
	env.DeferCleanup("third", step("third", nil))

	err := env.RunCleanups(context.Background())
	if err == nil || err.Error() != "cleanup: second: boom" {
		t.Errorf("RunCleanups err = %v, want %q", err, "cleanup: second: boom")
	}
	if want := []string{"third", "second", "first"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order = %q, want %q", order, want)
	}
	var details, statuses []string
	for _, s := range env.Report.Timeline {
		if s.Name != "cleanup" || s.At.IsZero() {
			t.Errorf("step %+v: want name cleanup and a time", s)
		}
		details = append(details, s.Detail)
		statuses = append(statuses, s.Status)
	}
	if want := []string{"third", "second", "first"}; !reflect.DeepEqual(details, want) {
		t.Errorf("step details = %q, want %q", details, want)
	}
	if want := []string{"ok", "failed", "ok"}; !reflect.DeepEqual(statuses, want) {
		t.Errorf("step statuses = %q, want %q", statuses, want)
	}

	// The steps ran once; a second call has nothing to do.
	if err := env.RunCleanups(context.Background()); err != nil {
		t.Errorf("second RunCleanups = %v, want nil", err)
	}
	if len(order) != 3 || len(env.Report.Timeline) != 3 {
		t.Errorf("second RunCleanups ran steps again: order %q, %d timeline steps", order, len(env.Report.Timeline))
	}
}

func TestEnvRunCleanupsJoinsAllErrors(t *testing.T) {
	env := &scenario.Env{Report: &report.Report{}}
	env.DeferCleanup("a", func(context.Context) error { return errors.New("x") })
	env.DeferCleanup("b", func(context.Context) error { return errors.New("y") })
	err := env.RunCleanups(context.Background())
	if err == nil || err.Error() != "cleanup: b: y; a: x" {
		t.Errorf("err = %v, want %q", err, "cleanup: b: y; a: x")
	}
}

func TestEnvRecorders(t *testing.T) {
	var log bytes.Buffer
	env := &scenario.Env{Report: &report.Report{}, Log: &log}
	if err := env.Timed("build", "runc v1.0.0-rc93", func() error { return nil }); err != nil {
		t.Errorf("Timed ok = %v", err)
	}
	boom := errors.New("boom")
	if err := env.Timed("copy", "runc", func() error { return boom }); err != boom {
		t.Errorf("Timed err = %v, want boom", err)
	}
	env.Event("trigger armed", "fs.pipe-user-pages-soft=1")
	env.Condition("compiled seccomp filter", "13080 bytes")
	env.Evidence("runc list", "ID PID STATUS")
	env.Logf("attempt %d", 2)

	tl := env.Report.Timeline
	if len(tl) != 3 {
		t.Fatalf("timeline = %+v, want 3 steps", tl)
	}
	if tl[0].Name != "build" || tl[0].Detail != "runc v1.0.0-rc93" || tl[0].Status != "ok" {
		t.Errorf("step 0 = %+v", tl[0])
	}
	if tl[1].Name != "copy" || tl[1].Detail != "runc: boom" || tl[1].Status != "failed" {
		t.Errorf("step 1 = %+v", tl[1])
	}
	if tl[2].Name != "trigger armed" || tl[2].Detail != "fs.pipe-user-pages-soft=1" || tl[2].Status != "" || tl[2].At.IsZero() {
		t.Errorf("step 2 = %+v", tl[2])
	}
	if want := []report.Fact{{Name: "compiled seccomp filter", Value: "13080 bytes"}}; !reflect.DeepEqual(env.Report.Conditions, want) {
		t.Errorf("Conditions = %+v", env.Report.Conditions)
	}
	if want := []report.Block{{Title: "runc list", Text: "ID PID STATUS"}}; !reflect.DeepEqual(env.Report.Evidence, want) {
		t.Errorf("Evidence = %+v", env.Report.Evidence)
	}
	if log.String() != "relapse: attempt 2\n" {
		t.Errorf("log = %q", log.String())
	}
	// Logf without a writer is a no-op, not a panic.
	(&scenario.Env{Report: &report.Report{}}).Logf("nothing")
}
