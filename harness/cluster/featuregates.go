package cluster

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/relapse-dev/relapse/harness/scenario"
)

// FeatureGatesParam sets kubelet's feature gates, as kubelet's own
// --feature-gates takes them ("ExecProbeTimeout=false"): how a fix that
// shipped behind a gate is turned off again (the kit's gate-off case).
var FeatureGatesParam = scenario.StringParam("feature-gates", "", "kubelet feature gates, Name=true|false[,Name=true|false...] (e.g. ExecProbeTimeout=false); written into kubelet's configuration", validFeatureGates)

// featureGateName is a gate's name as Kubernetes spells them.
var featureGateName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// ParseFeatureGates reads FeatureGatesParam's value ("" is no gate).
func ParseFeatureGates(v string) (map[string]bool, error) {
	gates := map[string]bool{}
	if strings.TrimSpace(v) == "" {
		return gates, nil
	}
	for _, pair := range strings.Split(v, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !featureGateName.MatchString(name) {
			return nil, fmt.Errorf("feature gate %q: want Name=true or Name=false (e.g. ExecProbeTimeout=false)", pair)
		}
		on, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("feature gate %s=%q: want true or false", name, value)
		}
		if _, twice := gates[name]; twice {
			return nil, fmt.Errorf("feature gate %s is given twice", name)
		}
		gates[name] = on
	}
	return gates, nil
}

func validFeatureGates(v string) error {
	_, err := ParseFeatureGates(v)
	return err
}

// KubeletFeatureGates is the KubeletConfiguration section setting gates
// ("" for none), in a stable order. kubelet refuses to start with a gate
// it does not know or one locked to its default: the run then fails at
// kubelet's start, saying so, before any verdict.
func KubeletFeatureGates(gates map[string]bool) string {
	if len(gates) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("featureGates:\n")
	names := make([]string, 0, len(gates))
	for name := range gates {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "  %s: %t\n", name, gates[name])
	}
	return b.String()
}
