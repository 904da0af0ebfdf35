package layers

import "strings"

// Module is the module path every listed package is under.
const Module = "github.com/relapse-dev/relapse/"

// Layers are the packages of each layer, lowest first. A name matches the
// package of that path and, when it ends in "/...", every package below it.
var Layers = [][]string{
	// Pieces with no relapse imports: text helpers, a cell's files (Prow's layout), the one wait loop, private directories, registries, /proc
	// reading, versions and builds, embedded fixture files.
	{"harness/textutil", "harness/atomicfile", "harness/prowjob", "harness/poll", "harness/privdir", "harness/progress", "harness/registry", "harness/measure", "harness/evidence", "harness/versions", "fixtures/...", "vagrant",
		// Escaping for Markdown and redaction of secrets, for every view.
		"harness/markdown/...", "harness/redact"},
	// The seam to a machine, the record every layer writes into, and the
	// headless browser the page tests render in.
	{"harness/node", "harness/report", "harness/browser"},
	// Machines: this host, ssh nodes, the agent on a node, node-side D-Bus
	// work, VM images, container fixtures.
	{"harness/node/...", "harness/systemdbus", "harness/vm", "harness/debsrc", "harness/fixture", "harness/reproscript"},
	// One run: context, journal, ledger, lock, repairers.
	{"harness/run"},
	// Enclosures on a host: network namespaces, cgroup parents, daemons.
	{"harness/sandbox"},
	// Where a run runs: node providers.
	{"harness/provision/..."},
	// What drives the runtime: runc, containerd, dockerd.
	{"harness/engine", "harness/daemons"},
	// Triggers and detectors.
	{"harness/chaos", "harness/detect", "harness/detect/..."},
	// What a scenario is.
	{"harness/scenario"},
	// Kits scenarios share: runc containers under a detector, the kit and
	// its engines, clusters.
	{"harness/runckit", "harness/kit", "harness/ctrdkit", "harness/cluster/...", "harness/clusterkit"},
	// The scenarios.
	{"harness/scenarios/..."},
	// One run end to end.
	{"harness/experiment", "harness/bisect", "harness/matrix", "harness/matrixjob", "harness/results", "harness/autobisect", "harness/explore"},
	// Entry points: the CLI, the agent, the suites; and this package.
	{"cmd/...", "suites/...", "harness/layers"},
}

// Of returns the layer of a package path (with or without Module), or -1.
func Of(pkg string) int {
	pkg = strings.TrimPrefix(pkg, Module)
	best, bestLen := -1, -1
	for i, layer := range Layers {
		for _, name := range layer {
			prefix, tree := strings.CutSuffix(name, "/...")
			match := pkg == prefix || (tree && strings.HasPrefix(pkg, prefix+"/"))
			if match && len(prefix) > bestLen {
				best, bestLen = i, len(prefix)
			}
		}
	}
	return best
}
