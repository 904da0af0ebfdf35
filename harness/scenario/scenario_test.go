package scenario_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/scenarios/runcpipehang"
)

// pipeHang is containerd#5261's scenario (runc-pipe-hang), as the kit registered it.
var pipeHang, _ = scenario.Lookup(runcpipehang.Name)

var defaults = map[string]string{
	"profile": "large", "attempts": "1", "soft-limit": "1",
	"create-timeout": "20s", "engine": "runc", "hold": "0s", "baseline": "true",
}

func TestResolveParamsDefaultsAndOverrides(t *testing.T) {
	s := pipeHang
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
			if !reflect.DeepEqual(got.Map(), tt.want) {
				t.Errorf("params = %v, want %v", got.Map(), tt.want)
			}
		})
	}
}

func TestResolveParamsRejects(t *testing.T) {
	s := pipeHang
	tests := []struct {
		name  string
		given map[string]string
		want  string
	}{
		{"unknown param lists the known names", map[string]string{"bogus": "1"},
			`scenario containerd-5261 has no parameter "bogus": its parameters are create-timeout, profile, attempts, soft-limit, engine, hold, baseline`},
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
			if len(got.Names()) != 0 {
				t.Errorf("params = %v, want none", got.Map())
			}
		})
	}
}

func TestRuncPipeHangParamDefaultsAreValid(t *testing.T) {
	for _, p := range pipeHang.Params() {
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
	// By its old name (an alias the kit registered) too.
	s, err := scenario.Lookup("runc-pipe-hang")
	if err != nil || s.Name() != runcpipehang.Name {
		t.Fatalf("Lookup(runc-pipe-hang) = %v, %v", s, err)
	}
	if s.Bug().ID != "containerd#5261" {
		t.Errorf("Bug().ID = %q", s.Bug().ID)
	}
	_, err = scenario.Lookup("nope")
	want := `unknown scenario "nope": known scenarios are containerd-5261`
	if err == nil || err.Error() != want {
		t.Errorf("Lookup(nope) err = %v, want %q", err, want)
	}
	// One name per bug: the old one is not listed.
	if names := scenario.Names(); !reflect.DeepEqual(names, []string{"containerd-5261"}) {
		t.Errorf("Names() = %q, want [containerd-5261]", names)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		r := recover()
		if r != `scenario "containerd-5261" registered twice` {
			t.Errorf("recover() = %v, want the duplicate-registration panic", r)
		}
	}()
	scenario.Register(pipeHang)
}

// The typed getters read what the constructors declared, and refuse to
// read a parameter as a type it was not declared with.
func TestValuesTypedGetters(t *testing.T) {
	v, err := scenario.ResolveParams(pipeHang, map[string]string{"attempts": "7", "hold": "2s", "baseline": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Int("attempts") != 7 || v.Duration("hold").Seconds() != 2 || v.Bool("baseline") || v.String("engine") != "runc" {
		t.Errorf("values = %v", v.Map())
	}
	defer func() {
		if recover() == nil {
			t.Error("reading a duration parameter as an int must panic")
		}
	}()
	_ = v.Int("hold")
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
