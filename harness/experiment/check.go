package experiment

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/relapse-dev/relapse/harness/provision"
	"github.com/relapse-dev/relapse/harness/scenario"
	"github.com/relapse-dev/relapse/harness/versions"
	"github.com/relapse-dev/relapse/harness/vm"
)

// MaxRepeat bounds the repetitions of one experiment: more than a night
// holds, and a typo (100000000) would otherwise run until someone kills it.
const MaxRepeat = 1000

// CheckRepeat accepts 0 (as the scenario's sampling needs) or 1..MaxRepeat.
func CheckRepeat(n int) error {
	if n < 0 || n > MaxRepeat {
		return fmt.Errorf("repeat %d: want a number of repetitions from 1 to %d (or 0 for the scenario's default)", n, MaxRepeat)
	}
	return nil
}

// nodeWord is what a node setting may hold: names, versions and paths, no
// shell metacharacters or spaces, since the values end up on the command
// lines of qemu, apt, ssh and the report's "run it again" line.
var nodeWord = regexp.MustCompile(`^[A-Za-z0-9._+~:@/,=-]*$`)

// CheckNode checks a node request without touching the host or the
// network: a known provider, sizes that are not negative, and kernel,
// systemd and box values that are words, not shell. What only the
// provider can check (apt has the kernel, qemu is installed) is its
// Check's business, in Prepare.
func CheckNode(spec provision.Spec) error {
	if spec.Provider == "" {
		spec.Provider = "local"
	}
	prov, err := Providers.Lookup(spec.Provider)
	if err != nil {
		return err
	}
	if spec.MemoryMiB < 0 {
		return fmt.Errorf("memory %d MiB: want a positive size in MiB, or 0 for the provider's default", spec.MemoryMiB)
	}
	if spec.CPUs < 0 {
		return fmt.Errorf("cpus %d: want a positive number of vCPUs, or 0 for the provider's default", spec.CPUs)
	}
	for _, f := range []struct{ name, value string }{
		{"kernel", spec.Kernel}, {"kernel-modules", spec.KernelModules}, {"systemd", spec.Systemd}, {"box", spec.Box},
	} {
		if !nodeWord.MatchString(f.value) {
			return fmt.Errorf("%s %q: want a name, version or path without spaces or shell metacharacters (letters, digits and . _ + ~ : @ / , = -)", f.name, f.value)
		}
	}
	if spec.Systemd != "" {
		if v, ok := strings.CutPrefix(spec.Systemd, vm.SourcePrefix); !ok || !vm.IsDebianVersion(v) {
			return fmt.Errorf("systemd %q: want %s<Debian version> (e.g. %s252.39-1~deb12u2) to build systemd from Debian source, or nothing for the root filesystem's own", spec.Systemd, vm.SourcePrefix, vm.SourcePrefix)
		}
	}
	if spec.Kernel != "" {
		// The syntax only; a bzImage must exist. Whether apt has a
		// Debian kernel is the provider's check.
		if _, err := vm.ParseKernel(spec.Kernel, spec.KernelModules); err != nil {
			return err
		}
	}
	if l, ok := prov.(provision.Local); ok {
		// The local provider's check is offline: settings only a VM
		// takes are refused here, before any cell of a matrix runs.
		return l.Check(context.Background(), spec)
	}
	return nil
}

// checked is what Check found out, for Prepare to go on with.
type checked struct {
	scenario scenario.Scenario
	provider provision.Provider
	params   scenario.Values
	// requested is the version asked for each component not built from
	// a local tree (the scenario's default where none was given).
	requested map[string]string
	patches   map[string][]versions.Patch
}

// Check validates a request as far as that needs neither the network nor
// the host: the scenario, repetitions, node, parameters, component names,
// version syntax and patch files. A matrix file runs it for every cell
// when it is loaded, so a mistake in the night's last cell fails at once.
func Check(o Options) error {
	_, err := check(&o)
	return err
}

// check is Check on options Prepare goes on with: it moves node patches
// into the node's spec and names the provider exactly.
func check(o *Options) (checked, error) {
	var c checked
	s := o.Using
	if s == nil {
		var err error
		if s, err = scenario.Lookup(o.Scenario); err != nil {
			return c, err
		}
	}
	c.scenario = s
	if err := CheckRepeat(o.Repeat); err != nil {
		return c, err
	}
	if o.Node.Provider == "" {
		o.Node.Provider = "local"
	}
	if err := CheckNode(o.Node); err != nil {
		return c, err
	}
	prov, err := Providers.Lookup(o.Node.Provider)
	if err != nil {
		return c, err
	}
	c.provider = prov
	o.Node.Provider = prov.Name()
	if err := takeNodePatches(o); err != nil {
		return c, err
	}
	if nr, ok := s.(scenario.NodeRequirer); ok {
		if err := nr.CheckNode(o.Node.Provider); err != nil {
			return c, err
		}
	}
	if c.params, err = scenario.ResolveParams(s, o.Params); err != nil {
		return c, err
	}
	wanted := map[string]bool{}
	for _, rc := range s.Components() {
		wanted[rc.Target().Name] = true
	}
	for name := range o.Versions {
		if !wanted[name] {
			return c, fmt.Errorf("scenario %s does not take a %s version (it takes: %s)", s.Name(), name, componentNames(s))
		}
	}
	for name := range o.Patches {
		if !wanted[name] {
			return c, fmt.Errorf("--patch %s=...: scenario %s does not build %s (it builds: %s)", name, s.Name(), name, componentNames(s))
		}
	}
	for name := range o.Sources {
		if !wanted[name] {
			return c, fmt.Errorf("--source %s=...: scenario %s does not build %s (it builds: %s)", name, s.Name(), name, componentNames(s))
		}
		if _, both := o.Versions[name]; both {
			return c, fmt.Errorf("--source %s=%s and a %s version were both given: a local tree is its own version; give one of them", name, o.Sources[name], name)
		}
	}
	c.requested, c.patches = map[string]string{}, map[string][]versions.Patch{}
	exact := map[string]string{}
	for _, rc := range s.Components() {
		name := rc.Target().Name
		if c.patches[name], err = loadPatches(o.Patches[name]); err != nil {
			return c, err
		}
		if _, fromTree := o.Sources[name]; fromTree {
			continue
		}
		requested, ok := o.Versions[name]
		if !ok {
			requested, ok = defaultVersion(s, name, exact)
		}
		if !ok && scenario.IsOptional(s, name) {
			if len(c.patches[name]) > 0 {
				return c, fmt.Errorf("--patch %s=...: scenario %s builds %s only when a %s version is given (%s=<version>); give one, or leave the patch out",
					name, s.Name(), name, name, strings.ToUpper(name))
			}
			continue
		}
		if !ok {
			return c, fmt.Errorf("scenario %s needs a %s version (e.g. %s=%s)\nknown %s versions:\n%s",
				s.Name(), name, strings.ToUpper(name), rc.Target().Pins[0].Alias, name, rc.Target().Known())
		}
		if exact[name], err = rc.Target().Normalize(requested); err != nil {
			return c, err
		}
		c.requested[name] = requested
	}
	// A plan a scenario refuses for its versions is refused here too when
	// every version is known offline; a local tree's is known only once
	// Prepare has read it.
	if len(o.Sources) == 0 {
		if err := checkPlan(s, o.Node.Provider, c.params, exact); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkPlan refuses versions outside the ranges the scenario declares and
// a plan its own check refuses; a version not known yet (a selector, a git
// ref) is left to the check after resolution.
func checkPlan(s scenario.Scenario, provider string, params scenario.Values, exact map[string]string) error {
	if err := scenario.CheckSupport(s, exact); err != nil {
		return err
	}
	if pc, ok := s.(scenario.PlanChecker); ok {
		return pc.CheckPlan(provider, params, exact)
	}
	return nil
}
