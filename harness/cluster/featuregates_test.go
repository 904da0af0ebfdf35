package cluster

import (
	"strings"
	"testing"
)

func TestParseFeatureGates(t *testing.T) {
	gates, err := ParseFeatureGates(" ExecProbeTimeout=false, EventedPLEG=true")
	if err != nil || len(gates) != 2 || gates["ExecProbeTimeout"] || !gates["EventedPLEG"] {
		t.Fatalf("gates = %v, %v", gates, err)
	}
	if got := KubeletFeatureGates(gates); got != "featureGates:\n  EventedPLEG: true\n  ExecProbeTimeout: false\n" {
		t.Errorf("KubeletFeatureGates = %q", got)
	}
	if gates, err := ParseFeatureGates(""); err != nil || KubeletFeatureGates(gates) != "" {
		t.Errorf("no gates: %v %v", gates, err)
	}
	for v, want := range map[string]string{
		"ExecProbeTimeout":                             "want Name=true or Name=false",
		"execProbeTimeout=false":                       "want Name=true or Name=false",
		"ExecProbeTimeout=off":                         "want true or false",
		"ExecProbeTimeout=false,ExecProbeTimeout=true": "given twice",
		"ExecProbeTimeout=false;EventedPLEG=true":      "want true or false",
	} {
		if _, err := ParseFeatureGates(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want one saying %q", v, err, want)
		}
		if err := FeatureGatesParam.Valid(v); err == nil {
			t.Errorf("parameter accepts %q", v)
		}
	}
}
